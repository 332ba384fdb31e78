"""Faults on the decision path end in deny with a code: never an allow, never a 5xx."""

from __future__ import annotations

import logging

import cedarpy
import httpx
import pytest
from sqlalchemy import create_engine, text

from service.engine.evaluate import _interpret
from service.engine.policies import PolicyFile, PolicySnapshot, compile_policies, read_policy_dir
from service.engine.tools import tools_from_list_result
from service.store.db import sync_url
from tests.conftest import POLICY_DIR, Records, decision_body, demo_tools

ALLOWED_CALL = {"tool": "docs___search", "arguments": {"query": "q"}}  # alice may call it


@pytest.fixture
def decision_log() -> Records:
    handler = Records()
    logger = logging.getLogger("mcp_pdp")  # decisions and the store
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

    monkeypatch.setattr("service.decide.service.evaluate_parts", explode)
    response = await client.post("/v1/decisions", json=decision_body(**ALLOWED_CALL))
    assert response.status_code == 200
    body = response.json()
    assert (body["decision"], body["code"]) == ("deny", "evaluation_error")
    failures = [r for r in decision_log.records if r.exc_info]
    assert failures and "failed" in failures[0].getMessage()


async def test_no_active_policy_set_denies(client: httpx.AsyncClient) -> None:
    client.app.state.runtime.policies.current = None  # type: ignore[attr-defined]
    response = await client.post("/v1/decisions", json=decision_body(**ALLOWED_CALL))
    body = response.json()
    assert (body["decision"], body["code"]) == ("deny", "evaluation_error")
    ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["policies"].startswith("not loaded")


async def test_erroring_forbid_denies_instead_of_being_skipped(client: httpx.AsyncClient) -> None:
    """Cedar skips a policy that errors; for a forbid we deny (fail closed)."""
    holder = client.app.state.runtime.policies  # type: ignore[attr-defined]
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


def twin(forbid_id: str) -> PolicyFile:
    """A permit `lenient` and an erroring forbid whose id begins with the permit's.

    Cedar reports the forbid's error as "policy `twin.cedar#<forbid_id>`: …",
    which, cut at the first backtick, names the permit.
    """
    return PolicyFile(
        "twin.cedar",
        '@id("lenient")\n'
        'permit (principal == Mcp::User::"nobody", action, resource);\n'
        f'@id("{forbid_id}")\n'
        "forbid (principal, action, resource)\n"
        "when { context.request.time * 9223372036854775807 > 0 };\n",
    )


TWIN_IDS = ["lenient`s twin", "lenient`: twin"]  # the second also ends where the permit's does


def with_policy(client: httpx.AsyncClient, extra: PolicyFile) -> PolicySnapshot:
    """Activate the demo policies plus `extra` on the app; the new snapshot."""
    holder = client.app.state.runtime.policies  # type: ignore[attr-defined]
    stub, files = read_policy_dir(POLICY_DIR)
    snapshot = compile_policies(stub, [*files, extra], holder.current.tools.values())
    holder.activate(snapshot)
    return snapshot


@pytest.mark.parametrize("forbid_id", TWIN_IDS)
async def test_an_erroring_forbid_named_like_a_permit_still_denies(
    client: httpx.AsyncClient, forbid_id: str
) -> None:
    with_policy(client, twin(forbid_id))
    response = await client.post("/v1/decisions", json=decision_body(**ALLOWED_CALL))
    body = response.json()
    assert (body["decision"], body["code"]) == ("deny", "evaluation_error")
    assert any(f"twin.cedar#{forbid_id}`" in e for e in body["errors"])


@pytest.mark.parametrize("forbid_id", TWIN_IDS)
async def test_an_erroring_forbid_named_like_a_permit_withholds_the_tool(
    client: httpx.AsyncClient, forbid_id: str
) -> None:
    with_policy(client, twin(forbid_id))
    tools = [t for t in demo_tools() if t["name"] == ALLOWED_CALL["tool"]]
    response = await client.post(
        "/v1/tools/filter", json={"claims": {"sub": "alice"}, "tools": tools}
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["tools"], body["withheld"]) == ([], [ALLOWED_CALL["tool"]])


def allow_with_error(snapshot: PolicySnapshot, error: str) -> cedarpy.AuthzResult:
    """An Allow from the demo's analyst permit that also reports `error`.

    Built with cedarpy's own result class from the document its engine returns:
    every evaluation error seen from cedarpy 4.12 reads "error while evaluating
    policy `<id>`: …", so a text of another form cannot be produced through it.
    """
    permit = "tools.cedar#analysts-read-tools"
    assert snapshot.policies[permit].effect == "permit"
    document = {"decision": "Allow", "diagnostics": {"reason": [permit], "errors": [error]}}
    return cedarpy.AuthzResult(document)


def test_an_allow_with_an_error_naming_no_policy_denies() -> None:
    stub, files = read_policy_dir(POLICY_DIR)
    snapshot = compile_policies(stub, files, tools_from_list_result({"tools": demo_tools()}))
    for error in (
        "the evaluator ran out of patience",
        "error while evaluating policy `someone-else.cedar#gone`: overflow",
    ):
        decision = _interpret(snapshot, allow_with_error(snapshot, error))
        assert (decision.allowed, decision.code) == (False, "evaluation_error"), error
    # An erroring permit alone is no reason to deny: Cedar skipped a grant, not a ban.
    permit_error = "error while evaluating policy `tools.cedar#analysts-read-tools`: overflow"
    decision = _interpret(snapshot, allow_with_error(snapshot, permit_error))
    assert (decision.allowed, decision.code) == (True, None)
