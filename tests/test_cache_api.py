"""The decision cache over the API, with the real Redis on 127.0.0.1:6379.

A repeat is served from the cache, and every kind of write (and a role expiring,
and a policy reload) flips the very next decision.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from service.store.changes import APPLICATION_NAME
from service.store.db import sync_url
from tests.conftest import (
    ADMIN_KEY,
    app_client,
    decision_body,
    demo_settings,
    demo_tools,
    load_demo,
)

REDIS_URL = "redis://127.0.0.1:6379/0"
SEARCH = {"tool": "docs___search", "arguments": {"query": "cache"}}
EXPORT = {"tool": "reports___export", "arguments": {"report": "revenue"}}


@pytest.fixture
async def admin(database_url: str, policy_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The demo app with the cache on Redis; the client sends the admin key."""
    await load_demo(database_url)
    settings = demo_settings(
        database_url, policy_dir=policy_dir, bootstrap_admin_key=ADMIN_KEY, redis_url=REDIS_URL
    )
    async with app_client(settings) as http:
        http.headers["Authorization"] = f"Bearer {ADMIN_KEY}"
        yield http


async def decide(http: httpx.AsyncClient, sub: str, call: dict[str, Any]) -> dict[str, Any]:
    response = await http.post("/v1/decisions", json=decision_body(claims={"sub": sub}, **call))
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


async def cached_answer(http: httpx.AsyncClient, sub: str, call: dict[str, Any]) -> str:
    """Decide twice: the first is evaluated, the repeat comes from the cache, same answer."""
    first = await decide(http, sub, call)
    again = await decide(http, sub, call)
    assert first["cached"] is False
    assert again["cached"] is True
    assert (again["decision"], again["reasons"]) == (first["decision"], first["reasons"])
    return str(first["decision"])


async def test_repeat_is_cached_and_logged_as_cached(admin: httpx.AsyncClient) -> None:
    assert await cached_answer(admin, "alice", SEARCH) == "allow"
    assert (
        await cached_answer(admin, "alice", {"tool": "files___delete", "arguments": {"path": "/x"}})
        == "deny"
    )
    metrics = (await admin.get("/metrics")).text
    assert 'mcp_pdp_cache_lookups_total{level="local",result="hit"} 2.0' in metrics


async def test_any_other_claim_or_argument_is_another_entry(admin: httpx.AsyncClient) -> None:
    partner = {"tool": "docs___read", "arguments": {"docId": "d1"}}
    body = decision_body(claims={"sub": "zed", "tenant": "acme-partner"}, **partner)
    assert (await admin.post("/v1/decisions", json=body)).json()["decision"] == "allow"
    body["claims"]["tenant"] = "someone-else"  # a tag policies read
    other = (await admin.post("/v1/decisions", json=body)).json()
    assert (other["decision"], other["cached"]) == ("deny", False)
    other_query = await decide(admin, "alice", {**SEARCH, "arguments": {"query": "other"}})
    assert other_query["cached"] is False


async def test_assign_flips_a_cached_deny(admin: httpx.AsyncClient) -> None:
    assert await cached_answer(admin, "erin", SEARCH) == "deny"
    assert (await admin.put("/admin/v1/principals/erin/roles/analyst")).status_code == 200
    after = await decide(admin, "erin", SEARCH)
    assert (after["decision"], after["cached"]) == ("allow", False)


async def test_revoke_flips_a_cached_allow(admin: httpx.AsyncClient) -> None:
    assert await cached_answer(admin, "alice", SEARCH) == "allow"
    assert (await admin.delete("/admin/v1/principals/alice/roles/analyst")).status_code == 204
    after = await decide(admin, "alice", SEARCH)
    assert (after["decision"], after["cached"]) == ("deny", False)


async def test_an_expiring_assignment_flips_without_any_write(admin: httpx.AsyncClient) -> None:
    expires = datetime.now(UTC) + timedelta(seconds=1.5)
    body = {"expires_at": expires.isoformat(), "reason": "short"}
    assert (
        await admin.put("/admin/v1/principals/erin/roles/analyst", json=body)
    ).status_code == 200
    assert await cached_answer(admin, "erin", SEARCH) == "allow"
    await asyncio.sleep(max(0.0, expires.timestamp() - time.time()) + 0.05)
    after = await decide(admin, "erin", SEARCH)
    assert (after["decision"], after["cached"]) == ("deny", False)


async def test_an_attribute_change_flips(admin: httpx.AsyncClient) -> None:
    assert await cached_answer(admin, "alice", EXPORT) == "allow"  # finance, clearance 3
    patched = await admin.patch("/admin/v1/principals/alice/attributes", json={"clearance": 2})
    assert patched.status_code == 200
    after = await decide(admin, "alice", EXPORT)
    assert (after["decision"], after["cached"]) == ("deny", False)


async def test_role_reparenting_flips(admin: httpx.AsyncClient) -> None:
    assert await cached_answer(admin, "erin", SEARCH) == "deny"  # hr reads no documents
    body = {"description": "People team", "parents": ["employee", "analyst"]}
    assert (await admin.put("/admin/v1/roles/hr", json=body)).status_code == 200
    after = await decide(admin, "erin", SEARCH)
    assert (after["decision"], after["cached"]) == ("allow", False)


async def test_tool_registry_change_flips(admin: httpx.AsyncClient) -> None:
    assert await cached_answer(admin, "alice", SEARCH) == "allow"  # a read-only tool
    tools = demo_tools()
    for tool in tools:
        if tool["name"] == "docs___search":
            tool["annotations"] = {**tool.get("annotations", {}), "readOnlyHint": False}
    assert (await admin.put("/admin/v1/tools", json={"tools": tools})).status_code == 200
    after = await decide(admin, "alice", SEARCH)
    assert (after["decision"], after["cached"]) == ("deny", False)


async def test_policy_reload_flips(admin: httpx.AsyncClient, policy_dir: Path) -> None:
    assert await cached_answer(admin, "alice", SEARCH) == "allow"
    (policy_dir / "freeze.cedar").write_text(
        '@id("freeze-search")\n'
        'forbid (principal, action == Mcp::Action::"docs___search", resource);\n'
    )
    assert (await admin.post("/admin/v1/policies/reload")).status_code == 200
    after = await decide(admin, "alice", SEARCH)
    assert (after["decision"], after["cached"], after["reasons"]) == (
        "deny",
        False,
        ["freeze.cedar#freeze-search"],
    )


async def test_policies_reading_the_time_are_never_cached(
    admin: httpx.AsyncClient, policy_dir: Path
) -> None:
    (policy_dir / "hours.cedar").write_text(
        '@id("not-before-2001")\n'
        "forbid (principal, action, resource) when { context.request.time < 978307200 };\n"
    )
    assert (await admin.post("/admin/v1/policies/reload")).status_code == 200
    answers = [await decide(admin, "alice", SEARCH) for _ in range(3)]
    assert [(a["decision"], a["cached"]) for a in answers] == [("allow", False)] * 3
    metrics = (await admin.get("/metrics")).text
    assert 'mcp_pdp_cache_lookups_total{level="all",result="bypass"} 3.0' in metrics


async def test_entries_never_outlive_the_token(admin: httpx.AsyncClient) -> None:
    # Two seconds at least: a loaded machine may take a while over the first decision.
    claims = {"sub": "alice", "exp": int(time.time()) + 3}
    body = decision_body(claims=claims, **SEARCH)
    answers = [(await admin.post("/v1/decisions", json=body)).json() for _ in range(2)]
    assert [a["cached"] for a in answers] == [False, True]
    await asyncio.sleep(claims["exp"] - time.time() + 0.05)
    assert (await admin.post("/v1/decisions", json=body)).json()["cached"] is False


async def test_errors_are_never_cached(admin: httpx.AsyncClient) -> None:
    for call in (
        {"tool": "no___such_tool", "arguments": {}},
        {"tool": "payments___refund", "arguments": {"amount": "lots"}},
    ):
        answers = [await decide(admin, "carol", call) for _ in range(2)]
        assert [a["cached"] for a in answers] == [False, False]
        assert answers[1]["code"] in {"unknown_tool", "invalid_arguments"}


async def test_replicas_share_entries_through_redis(database_url: str, policy_dir: Path) -> None:
    await load_demo(database_url)
    # A generous timeout: a new connection on a loaded test machine can take over 50 ms.
    settings = demo_settings(
        database_url, policy_dir=policy_dir, redis_url=REDIS_URL, redis_timeout_seconds=0.5
    )
    async with app_client(settings) as first, app_client(settings) as second:
        call = {**SEARCH, "arguments": {"query": f"shared {time.time_ns()}"}}
        assert (await decide(first, "alice", call))["cached"] is False
        shared = await decide(second, "alice", call)  # second's own memory is empty
        assert (shared["decision"], shared["cached"]) == ("allow", True)
        metrics = (await second.get("/metrics")).text
        assert 'mcp_pdp_cache_lookups_total{level="redis",result="hit"} 1.0' in metrics


AWAY = ("data_generations", "role_assignments", "principals")


def rename_tables(database_url: str, away: bool) -> None:
    """Rename the role store's tables away (and, on PostgreSQL, cut the change feed) or back."""
    engine = create_engine(sync_url(database_url))
    with engine.begin() as conn:
        for table in AWAY:
            old, new = (table, f"{table}_away") if away else (f"{table}_away", table)
            conn.execute(text(f"ALTER TABLE {old} RENAME TO {new}"))
        if away and engine.dialect.name == "postgresql":
            # A worker that keeps generations learns of an outage by losing its listener
            # (store/changes.py); with the tables gone it cannot start listening again.
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE application_name = :name"
                ),
                {"name": APPLICATION_NAME},
            )
    engine.dispose()


@asynccontextmanager
async def store_away(http: httpx.AsyncClient, database_url: str) -> AsyncIterator[None]:
    """The role store unreadable for the block, then put back."""
    # In a thread: the app's own writers (the decision log) must be able to finish
    # their transactions, or SQLite keeps the rename waiting on their lock.
    await asyncio.to_thread(rename_tables, database_url, True)
    changes = http.app.state.runtime.changes  # type: ignore[attr-defined]
    for _ in range(200):
        if not changes.live:
            break
        await asyncio.sleep(0.01)
    try:
        assert not changes.live
        yield
    finally:
        await asyncio.to_thread(rename_tables, database_url, False)


async def test_database_away_serves_cached_denies_only(
    admin: httpx.AsyncClient, database_url: str
) -> None:
    # With the generations unreadable nobody can tell whether a write revoked an allow.
    assert await cached_answer(admin, "alice", SEARCH) == "allow"
    assert await cached_answer(admin, "erin", SEARCH) == "deny"
    async with store_away(admin, database_url):
        allowed_before = await decide(admin, "alice", SEARCH)
        denied_before = await decide(admin, "erin", SEARCH)
        fresh = await decide(admin, "alice", {**SEARCH, "arguments": {"query": "new"}})
    assert (allowed_before["decision"], allowed_before["code"], allowed_before["cached"]) == (
        "deny",
        "store_unavailable",
        False,
    )
    assert (denied_before["decision"], denied_before["cached"]) == ("deny", True)
    assert (fresh["decision"], fresh["code"], fresh["cached"]) == (
        "deny",
        "store_unavailable",
        False,
    )


async def test_a_revoked_allow_is_not_served_while_the_database_is_away(
    admin: httpx.AsyncClient, database_url: str
) -> None:
    assert await cached_answer(admin, "alice", SEARCH) == "allow"
    assert (await admin.delete("/admin/v1/principals/alice/roles/analyst")).status_code == 204
    async with store_away(admin, database_url):
        after = await decide(admin, "alice", SEARCH)
    assert (after["decision"], after["code"], after["cached"]) == (
        "deny",
        "store_unavailable",
        False,
    )
