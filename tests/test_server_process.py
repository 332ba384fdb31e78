"""A real `mcp-pdp serve` process on loopback, set up by the same commands `make run` uses."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import DEMO_SEED, DEMO_TOOLS, POLICY_DIR

CLI = [sys.executable, "-m", "service"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[str]:
    env = {
        **os.environ,
        "MCP_PDP_DATABASE_URL": database_url,
        "MCP_PDP_POLICY_DIR": str(POLICY_DIR),
    }
    for args in (("migrate",), ("tools", "sync", str(DEMO_TOOLS)), ("seed", str(DEMO_SEED))):
        done = run_cli(env, *args)
        assert done.returncode == 0, done.stderr
    port = free_port()
    log = (tmp_path / "server.log").open("w")
    process = subprocess.Popen(
        [*CLI, "serve", "--port", str(port)], env=env, stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, (tmp_path / "server.log").read_text()
            time.sleep(0.2)
        else:
            pytest.fail("server did not become ready in 30 s")
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
        log.close()


def test_real_server_allows_and_denies(server: str) -> None:
    allow = httpx.post(
        f"{server}/v1/decisions",
        json={
            "claims": {"sub": "alice"},
            "method": "tools/call",
            "tool": "docs___search",
            "arguments": {"query": "q"},
        },
    ).json()
    deny = httpx.post(
        f"{server}/v1/decisions",
        json={
            "claims": {"sub": "alice"},
            "method": "tools/call",
            "tool": "files___delete",
            "arguments": {"path": "/tmp/x"},
        },
    ).json()
    assert (allow["decision"], allow["reasons"]) == ("allow", ["tools.cedar#analysts-read-tools"])
    assert deny["decision"] == "deny"
    assert deny["reasons"] == ["guardrails.cedar#writes-need-scope"]
    assert httpx.get(f"{server}/openapi.json").json()["paths"]["/v1/decisions"]


def test_invalid_policies_refuse_to_start(database_url: str, tmp_path: Path) -> None:
    for path in POLICY_DIR.glob("*.cedar*"):
        (tmp_path / path.name).write_text(path.read_text())
    (tmp_path / "broken.cedar").write_text(
        "permit (principal, action, resource);\n\npermit (principal, action, resource) when { principal.nope };\n"
    )
    env = {**os.environ, "MCP_PDP_DATABASE_URL": database_url, "MCP_PDP_POLICY_DIR": str(tmp_path)}
    assert run_cli(env, "migrate").returncode == 0
    assert run_cli(env, "tools", "sync", str(DEMO_TOOLS)).returncode == 0
    done = run_cli(env, "serve", "--port", str(free_port()))
    assert done.returncode == 1
    assert "broken.cedar:3" in done.stderr
    assert "nope" in done.stderr


def test_serving_beyond_loopback_needs_an_explicit_choice(database_url: str) -> None:
    env = {**os.environ, "MCP_PDP_DATABASE_URL": database_url}
    done = run_cli(env, "serve", "--host", "0.0.0.0", "--port", str(free_port()))
    assert done.returncode == 2
    assert "refusing to serve on 0.0.0.0" in done.stderr
