"""Faults on the decision path end in deny with a code: never an allow, never a 5xx."""

from __future__ import annotations

import logging

import httpx
import pytest
from sqlalchemy import create_engine, text

from service.engine.policies import PolicyFile, compile_policies, read_policy_dir
from service.store.db import sync_url
from tests.conftest import POLICY_DIR, Records, decision_body

ALLOWED_CALL = {"tool": "docs___search", "arguments": {"query": "q"}}  # alice may call it


@pytest.fixture
def decision_log() -> Records:
    handler = Records()
    logger = logging.getLogger("mcp_pdp.decisions")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


async def test_broken_store_denies_with_store_unavailable(
    client: httpx.AsyncClient, database_url: str, decision_log: Records
) -> None:
    before = await client.post("/v1/decisions", json=decision_body(**ALLOWED_CALL))
    assert before.json()["decision"] == "allow"
    engine = create_engine(sync_url(database_url))
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE role_assignments RENAME TO role_assignments_broken"))
    try:
        # A principal with stored facts not decided for before: neither the cache nor
        # the facts a worker keeps (store/changes.py) can answer, the store must.
        other_call = {**ALLOWED_CALL, "claims": {"sub": "bob"}}
        response = await client.post("/v1/decisions", json=decision_body(**other_call))
    finally:
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE role_assignments_broken RENAME TO role_assignments"))
        engine.dispose()
    assert response.status_code == 200
    body = response.json()
    assert (body["decision"], body["code"]) == ("deny", "store_unavailable")
    assert any("store unavailable" in r.getMessage() for r in decision_log.records)


async def test_any_exception_on_the_path_denies_and_is_logged(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, decision_log: Records
) -> None:
    def explode(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("engine fault")

    monkeypatch.setattr("service.decisions.evaluate", explode)
    response = await client.post("/v1/decisions", json=decision_body(**ALLOWED_CALL))
    assert response.status_code == 200
    body = response.json()
    assert (body["decision"], body["code"]) == ("deny", "evaluation_error")
    failures = [r for r in decision_log.records if r.exc_info]
    assert failures and "failed" in failures[0].getMessage()


async def test_no_active_policy_set_denies(client: httpx.AsyncClient) -> None:
    client.app.state.policies.current = None  # type: ignore[attr-defined]
    response = await client.post("/v1/decisions", json=decision_body(**ALLOWED_CALL))
    body = response.json()
    assert (body["decision"], body["code"]) == ("deny", "evaluation_error")
    ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["policies"].startswith("not loaded")


async def test_erroring_forbid_denies_instead_of_being_skipped(client: httpx.AsyncClient) -> None:
    """Cedar skips a policy that errors; for a forbid we deny (fail closed)."""
    holder = client.app.state.policies  # type: ignore[attr-defined]
    snapshot = holder.current
    stub, files = read_policy_dir(POLICY_DIR)
    # Overflow at run time: valid for the validator, an error for the evaluator.
    overflow = PolicyFile(
        "overflow.cedar",
        '@id("overflowing-forbid")\n'
        "forbid (principal, action, resource)\n"
        "when { context.request.time * 9223372036854775807 > 0 };\n",
    )
    holder.activate(compile_policies(stub, [*files, overflow], snapshot.tools.values()))
    response = await client.post("/v1/decisions", json=decision_body(**ALLOWED_CALL))
    body = response.json()
    assert (body["decision"], body["code"]) == ("deny", "evaluation_error")
    assert any("overflowing-forbid" in e for e in body["errors"])
