"""Change notices (service/store/changes.py) on the real PostgreSQL: kept until told otherwise.

A worker keeps the data generations and caller keys it has read while it is
listening; a committed write anywhere makes every worker drop what it names,
and a lost listener makes it drop everything and read the database again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import event

from service.engine.model import StoredPrincipal
from service.store.changes import (
    APPLICATION_NAME,
    CHANNEL,
    KEYS,
    ChangeFeed,
    announce,
    libpq_url,
)
from service.store.db import create_engine, session_factory
from service.store.generations import NEVER_WRITTEN, Generations
from tests.conftest import (
    ADMIN_KEY,
    app_client,
    clean_database,
    decision_body,
    demo_settings,
    load_demo,
)

OLD = Generations("store-1", "alice-1")
SEARCH = {"tool": "docs___search", "arguments": {"query": "notices"}}


def notify(url: str, scope: str, *, commit: bool = True) -> None:
    """Send a notice from another connection, committed or rolled back."""
    with psycopg.connect(libpq_url(url)) as conn:
        conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, scope))
        if commit:
            conn.commit()
        else:
            conn.rollback()


async def eventually(condition: Callable[[], bool], seconds: float = 3.0) -> bool:
    """Whether `condition` holds within `seconds` (notices take a moment to arrive)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.01)
    return condition()


@pytest.fixture
async def feed(postgres_database: str) -> AsyncIterator[ChangeFeed]:
    """A feed listening on the demo database, with a short heartbeat."""
    clean_database(postgres_database)
    await load_demo(postgres_database)  # alice, bob, carol… have stored facts
    changes = ChangeFeed(database_url=postgres_database, heartbeat_seconds=0.2)
    await changes.start()
    assert changes.live
    yield changes
    await changes.stop()


async def test_kept_until_a_notice_names_them(feed: ChangeFeed, postgres_database: str) -> None:
    feed.keep_generations("alice", OLD, feed.ticket())
    feed.keep_generations("bob", Generations("store-1", "bob-1"), feed.ticket())
    feed.keep_caller("digest", "caller", feed.ticket())
    assert feed.generations("alice") == OLD
    notify(postgres_database, "principal:alice")
    assert await eventually(lambda: feed.generations("alice") is None)
    assert feed.generations("bob") == Generations("store-1", "bob-1")
    assert feed.caller("digest") == "caller"
    notify(postgres_database, KEYS)
    assert await eventually(lambda: feed.caller("digest") is None)
    assert feed.generations("bob") is not None
    notify(postgres_database, "*")  # roles or tools changed: every principal's store token
    assert await eventually(lambda: feed.generations("bob") is None)


async def test_a_read_that_races_a_notice_is_not_kept(
    feed: ChangeFeed, postgres_database: str
) -> None:
    ticket = feed.ticket()  # taken before the (slow) database read
    notify(postgres_database, "principal:alice")  # a write commits meanwhile
    assert await eventually(lambda: feed.ticket() != ticket)
    feed.keep_generations("alice", OLD, ticket)  # what the read returned may predate it
    assert feed.generations("alice") is None
    feed.keep_generations("alice", OLD, feed.ticket())
    assert feed.generations("alice") == OLD


async def test_only_committed_writes_send_notices(feed: ChangeFeed, postgres_database: str) -> None:
    feed.keep_generations("alice", OLD, feed.ticket())
    notify(postgres_database, "principal:alice", commit=False)
    await asyncio.sleep(0.3)
    assert feed.generations("alice") == OLD
    notify(postgres_database, "principal:alice")
    assert await eventually(lambda: feed.generations("alice") is None)


async def test_own_commit_applies_at_once_and_a_rollback_not_at_all(
    feed: ChangeFeed, postgres_database: str
) -> None:
    engine = create_engine(postgres_database)
    sessions = session_factory(engine)
    feed.watch_commits(sessions)
    try:
        feed.keep_generations("alice", OLD, feed.ticket())
        async with sessions() as session:
            await announce(session=session, scope="principal:alice")
            await session.rollback()
        await asyncio.sleep(0.3)
        assert feed.generations("alice") == OLD
        async with sessions() as session, session.begin():
            await announce(session=session, scope="principal:alice")
        assert feed.generations("alice") is None  # no wait: before this worker answers
    finally:
        await engine.dispose()


async def test_a_lost_listener_drops_everything_then_reconnects(
    feed: ChangeFeed, postgres_database: str
) -> None:
    feed.keep_generations("alice", OLD, feed.ticket())
    feed.keep_caller("digest", "caller", feed.ticket())
    with psycopg.connect(libpq_url(postgres_database), autocommit=True) as conn:
        killed = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (APPLICATION_NAME,),
        ).fetchall()
    assert killed
    # Notices sent while it was down are lost, so nothing kept before may be trusted.
    assert await eventually(lambda: feed.generations("alice") is None)
    assert feed.caller("digest") is None
    assert await eventually(lambda: feed.live)
    feed.keep_generations("alice", OLD, feed.ticket())
    assert feed.generations("alice") == OLD


async def test_kept_principals_are_bounded(postgres_database: str) -> None:
    clean_database(postgres_database)
    await load_demo(postgres_database)
    changes = ChangeFeed(database_url=postgres_database, max_principals=2)
    await changes.start()
    try:
        for name in ("alice", "bob", "carol"):
            changes.keep_generations(name, OLD, changes.ticket())
        assert changes.generations("alice") is None  # least recently used went first
        assert changes.generations("carol") == OLD
    finally:
        await changes.stop()


GRAPH = {"analyst": frozenset({"employee"})}


async def test_a_principal_without_stored_facts_needs_no_read(
    feed: ChangeFeed, postgres_database: str
) -> None:
    # Until the store token and the role graph are known, nothing can be answered.
    assert feed.generations("newcomer") is None
    assert feed.stored("newcomer", time.time()) is None
    feed.keep_generations("alice", OLD, feed.ticket())
    feed.keep_stored("alice", StoredPrincipal(frozenset({"analyst"}), {}, GRAPH), feed.ticket())
    # No row anywhere for "newcomer": no roles, no attributes, token "0", nothing read.
    assert feed.generations("newcomer") == Generations("store-1", NEVER_WRITTEN)
    assert feed.stored("newcomer", time.time()) == StoredPrincipal(role_parents=GRAPH)
    notify(postgres_database, "principal:newcomer")  # a first write for them
    assert await eventually(lambda: feed.generations("newcomer") is None)
    assert feed.stored("newcomer", time.time()) is None


async def test_kept_facts_end_when_an_assignment_expires(feed: ChangeFeed) -> None:
    now = time.time()
    expiring = StoredPrincipal(frozenset({"analyst"}), {}, GRAPH, roles_valid_until=now + 60)
    feed.keep_stored("alice", expiring, feed.ticket())
    assert feed.stored("alice", now) == expiring
    assert feed.stored("alice", now + 61) is None  # no write, but the role has lapsed


async def test_sqlite_never_keeps_anything(sqlite_database: str) -> None:
    changes = ChangeFeed(database_url=sqlite_database)
    await changes.start()
    changes.keep_generations("alice", OLD, changes.ticket())
    changes.keep_caller("digest", "caller", changes.ticket())
    assert not changes.live
    assert changes.generations("alice") is None
    assert changes.caller("digest") is None
    await changes.stop()


def count_statements(app: Any) -> list[str]:
    """Every statement `app` sends to its database from now on."""
    statements: list[str] = []
    event.listen(
        app.state.runtime.database.sync_engine,
        "before_cursor_execute",
        lambda _conn, _cursor, statement, *_: statements.append(statement),
    )
    return statements


@pytest.fixture
async def workers(postgres_database: str) -> AsyncIterator[tuple[httpx.AsyncClient, ...]]:
    """Two apps on one PostgreSQL database, as two workers or replicas are; keys required."""
    clean_database(postgres_database)
    await load_demo(postgres_database)
    settings = demo_settings(
        postgres_database, bootstrap_admin_key=ADMIN_KEY, require_caller_key=True
    )
    async with app_client(settings) as first, app_client(settings) as second:
        for http in (first, second):
            http.headers["Authorization"] = f"Bearer {ADMIN_KEY}"
        feeds = [http.app.state.runtime.changes for http in (first, second)]  # type: ignore[attr-defined]
        before = [feed.ticket() for feed in feeds]
        made = await first.post(
            "/admin/v1/keys", json={"name": "gw", "scope": "decide", "trusted_claims": True}
        )
        GATEWAY["Authorization"] = f"Bearer {made.json()['key']}"
        # The key's notice reaches each worker's listener a moment after the commit (the
        # writer also applied it at commit): wait for it, or it would drop a caller kept
        # by the test's first decision and cost a statement the test does not expect.
        seen = [before[0] + 2, before[1] + 1]
        assert await eventually(lambda: all(f.ticket() >= n for f, n in zip(feeds, seen)))
        yield first, second


GATEWAY: dict[str, str] = {}  # a trusted `decide` key, made by the `workers` fixture


async def decide(http: httpx.AsyncClient, sub: str = "alice") -> dict[str, Any]:
    body = decision_body(claims={"sub": sub}, **SEARCH)
    response = await http.post("/v1/decisions", json=body, headers=GATEWAY)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_new_principal_is_decided_without_a_statement(
    workers: tuple[httpx.AsyncClient, ...],
) -> None:
    first, _ = workers
    assert (await decide(first, "alice"))["cached"] is False  # the store token and role graph
    statements = count_statements(first.app)  # type: ignore[attr-defined]
    response = await first.post(
        "/v1/decisions",
        json=decision_body(claims={"sub": "newcomer", "groups": ["analyst"]}, **SEARCH),
        headers=GATEWAY,
    )
    assert (response.json()["decision"], response.json()["cached"]) == ("allow", False)
    assert statements == []  # roles from the groups claim, nothing stored for them


async def test_a_cache_hit_sends_no_statement_to_the_database(
    workers: tuple[httpx.AsyncClient, ...],
) -> None:
    first, _ = workers
    assert (await decide(first))["cached"] is False
    statements = count_statements(first.app)  # type: ignore[attr-defined]
    again = await decide(first)
    assert again["cached"] is True
    assert statements == []  # caller key and generations both kept by this worker


async def test_a_write_on_one_worker_reaches_the_other(
    workers: tuple[httpx.AsyncClient, ...],
) -> None:
    first, second = workers
    assert (await decide(second))["decision"] == "allow"
    assert (await decide(second))["cached"] is True
    revoked = await first.delete("/admin/v1/principals/alice/roles/analyst")
    assert revoked.status_code == 204, revoked.text

    async def flipped() -> bool:
        for _ in range(300):
            if (await decide(second))["decision"] == "deny":
                return True
            await asyncio.sleep(0.01)
        return False

    assert await flipped()


async def test_a_deleted_key_is_refused_by_every_worker(
    workers: tuple[httpx.AsyncClient, ...],
) -> None:
    first, second = workers
    made = await first.post("/admin/v1/keys", json={"name": "gw", "scope": "decide"})
    key = made.json()
    gateway = {"Authorization": f"Bearer {key['key']}"}
    body = decision_body(token="not-a-jwt", method="tools/list")
    assert (await second.post("/v1/decisions", json=body, headers=gateway)).status_code == 200
    assert (await first.delete(f"/admin/v1/keys/{key['id']}")).status_code == 204

    async def refused() -> bool:
        for _ in range(300):
            if (await second.post("/v1/decisions", json=body, headers=gateway)).status_code == 401:
                return True
            await asyncio.sleep(0.01)
        return False

    assert await refused()


@pytest.fixture
async def unpolled(
    postgres_database: str, policy_dir: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """Two workers on one PostgreSQL database and policy folder that never poll for changes."""
    clean_database(postgres_database)
    await load_demo(postgres_database)
    settings = demo_settings(
        postgres_database,
        policy_dir=policy_dir,
        bootstrap_admin_key=ADMIN_KEY,
        policy_poll_seconds=0,
    )
    async with app_client(settings) as first, app_client(settings) as second:
        for http in (first, second):
            http.headers["Authorization"] = f"Bearer {ADMIN_KEY}"
        yield first, second


def active_version(http: httpx.AsyncClient) -> str:
    return str(http.app.state.runtime.policies.current.version)  # type: ignore[attr-defined]


async def test_a_registry_change_reaches_every_worker_at_once(
    unpolled: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    first, second = unpolled
    tools = (await first.get("/admin/v1/tools")).json()["tools"]
    new_tool = {"name": "docs___summarise", "inputSchema": {"type": "object"}}
    written = await first.put("/admin/v1/tools", json={"tools": [*tools, new_tool]})
    assert written.status_code == 200, written.text
    # No worker polls: only the change notice can make the second one recompile.
    assert await eventually(lambda: active_version(second) == written.json()["policy_version"])


async def test_a_policy_reload_reaches_every_worker_at_once(
    unpolled: tuple[httpx.AsyncClient, httpx.AsyncClient], policy_dir: Path
) -> None:
    first, second = unpolled
    before = active_version(second)
    (policy_dir / "extra.cedar").write_text(
        '@id("no-search")\nforbid (principal, action == Mcp::Action::"docs___search", resource);\n'
    )
    reloaded = await first.post("/admin/v1/policies/reload")
    assert reloaded.status_code == 200, reloaded.text
    assert reloaded.json()["version"] != before
    assert await eventually(lambda: active_version(second) == reloaded.json()["version"])
