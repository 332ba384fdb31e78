"""Fixtures for the AgentCore interceptor tests: the fixture events, a real PDP process, an issuer."""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import POLICY_DIR, ROOT
from tests.deploy.loopback import Issuer
from tests.server import prepare_demo, running_server, server_env

# The Lambda handlers import their siblings as top-level modules, as Lambda does.
sys.path.insert(0, str(ROOT / "deploy" / "agentcore"))

from pdp_client import Config

FIXTURES = Path(__file__).parent / "fixtures"  # copied from shared/fixtures/agentcore
RESOURCE_METADATA = "https://gateway.example/.well-known/oauth-protected-resource"
TEST_TIMEOUT = 0.5


def event(name: str, token: str | None = None) -> dict[str, Any]:
    """A fixture event, with `<token>` replaced (or the Authorization header removed)."""
    document: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    headers = document["mcp"]["gatewayRequest"].get("headers", {})
    if token is None:
        headers.pop("Authorization", None)
    else:
        headers["Authorization"] = f"Bearer {token}"
    return copy.deepcopy(document)


def config(url: str, **overrides: Any) -> Config:
    """Interceptor configuration for a PDP at `url` with the test timeout."""
    fields: dict[str, Any] = {
        "url": url,
        "api_key": "test-decide-key",
        "timeout": TEST_TIMEOUT,
        "resource_metadata": RESOURCE_METADATA,
    }
    fields.update(overrides)
    return Config(**fields)


@pytest.fixture(scope="session")
def issuer() -> Iterator[Issuer]:
    """An identity provider on loopback that the real PDP trusts."""
    with Issuer().running() as running:
        yield running


@pytest.fixture(scope="session")
def pdp(issuer: Issuer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `mcp-pdp serve` on loopback with the demo policies, tools and seed."""
    folder = tmp_path_factory.mktemp("pdp")
    env = server_env(
        f"sqlite:///{folder / 'pdp.db'}",
        POLICY_DIR,
        issuers=json.dumps(issuer.settings()),
        policy_poll_seconds="0",
    )
    prepare_demo(env)
    with running_server(env, folder / "server.log") as (base, _process):
        yield base
