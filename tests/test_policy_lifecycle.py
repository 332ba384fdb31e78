"""Hot reload never breaks serving; shadow policies never change a decision."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from service.app import create_app
from tests.conftest import (
    POLICY_DIR,
    decision_body,
    demo_settings,
    load_demo,
    logged_decisions,
)
from tests.server import prepare_demo, running_server, server_env

ALICE_SEARCH = decision_body(tool="docs___search", arguments={"query": "q"})
FORBID_SEARCH = (
    '@id("no-search-today")\n'
    'forbid (principal, action == Mcp::Action::"docs___search", resource);\n'
)
BROKEN = "permit (principal, action, resource) when { principal.shoe_size > 3 };\n"


@pytest.fixture
async def live(database_url: str, policy_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    await load_demo(database_url)
    app = create_app(demo_settings(database_url, policy_dir=policy_dir, policy_poll_seconds=0.05))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://pdp") as http:
            http.app = app  # type: ignore[attr-defined]
            yield http


async def wait_for(predicate, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached in time")


def touch(path: Path, text: str) -> None:
    path.write_text(text)
    # Make the change visible to a size+mtime fingerprint even within one clock tick.
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))


async def version(client: httpx.AsyncClient) -> str:
    return (await client.post("/v1/decisions", json=ALICE_SEARCH)).json()["policy_version"]


async def test_broken_file_keeps_the_last_good_set_then_a_fix_is_served(
    live: httpx.AsyncClient, policy_dir: Path
) -> None:
    good = await version(live)
    results: list[dict] = []
    stop = asyncio.Event()

    async def load() -> None:
        for _ in range(2000):  # bounded
            if stop.is_set():
                return
            response = await live.post("/v1/decisions", json=ALICE_SEARCH)
            assert response.status_code == 200
            results.append(response.json())
            await asyncio.sleep(0)

    loader = asyncio.create_task(load())
    touch(policy_dir / "broken.cedar", BROKEN)

    async def error_reported() -> bool:
        body = (await live.get("/readyz")).json()
        return bool(body["policy_error"])

    await wait_for(error_reported)
    ready = (await live.get("/readyz")).json()
    assert "broken.cedar:1" in ready["policy_error"] and "shoe_size" in ready["policy_error"]
    assert ready["policy_version"] == good

    touch(policy_dir / "broken.cedar", FORBID_SEARCH)

    async def fixed() -> bool:
        return await version(live) != good

    await wait_for(fixed)
    stop.set()
    await loader
    assert results, "the load loop made no decisions"
    assert all(r["code"] in (None,) for r in results), "a decision failed during the reload"
    assert {r["policy_version"] for r in results} <= {good, await version(live)}
    after = (await live.post("/v1/decisions", json=ALICE_SEARCH)).json()
    assert after["decision"] == "deny"
    assert after["reasons"] == ["broken.cedar#no-search-today"]
    assert (await live.get("/readyz")).json()["policy_error"] is None


async def test_reload_storm_never_mixes_sets(live: httpx.AsyncClient, policy_dir: Path) -> None:
    reloader = live.app.state.runtime.reloader  # type: ignore[attr-defined]
    seen: list[tuple[str, str]] = []

    async def storm() -> None:
        for i in range(30):
            touch(policy_dir / "storm.cedar", FORBID_SEARCH if i % 2 == 0 else "")
            await reloader.reload()

    async def decide() -> None:
        for _ in range(300):
            body = (await live.post("/v1/decisions", json=ALICE_SEARCH)).json()
            seen.append((body["policy_version"], body["decision"]))
            await asyncio.sleep(0)

    await asyncio.gather(storm(), decide())
    by_version: dict[str, set[str]] = {}
    for policy_version, decision in seen:
        by_version.setdefault(policy_version, set()).add(decision)
    # Each version decides one way only: a mixed set would show both answers.
    assert all(len(decisions) == 1 for decisions in by_version.values()), by_version
    assert {d for ds in by_version.values() for d in ds} == {"allow", "deny"}


async def test_schema_stub_change_that_breaks_policies_is_refused(
    live: httpx.AsyncClient, policy_dir: Path
) -> None:
    good = await version(live)
    stub = policy_dir / "schema.cedarschema"
    # guardrails.cedar reads context.token.scopes
    touch(stub, stub.read_text().replace("scopes: Set<String>,", ""))
    assert await live.app.state.runtime.reloader.reload() == "invalid"  # type: ignore[attr-defined]
    assert "scopes" in (await live.get("/readyz")).json()["policy_error"]
    assert await version(live) == good


async def test_shadow_policy_is_logged_never_enforced(
    live: httpx.AsyncClient, policy_dir: Path
) -> None:
    touch(
        policy_dir / "trial.cedar",
        '@id("trial-no-search")\n@mode("shadow")\n'
        'forbid (principal, action == Mcp::Action::"docs___search", resource);\n',
    )
    assert await live.app.state.runtime.reloader.reload() == "ok"  # type: ignore[attr-defined]
    body = (await live.post("/v1/decisions", json=ALICE_SEARCH)).json()
    assert (body["decision"], body["reasons"]) == ("allow", ["tools.cedar#analysts-read-tools"])
    rows = await logged_decisions(live.app)  # type: ignore[attr-defined]
    row = next(r for r in rows if r["decision_id"] == body["decision_id"])
    assert row["shadow"] == {"decision": "deny", "policies": ["trial.cedar#trial-no-search"]}
    metrics = (await live.get("/metrics")).text
    assert 'mcp_pdp_shadow_effects_total{changed="true",would_be="deny"} 1.0' in metrics


def test_sighup_reloads_a_running_server(database_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "policies"
    shutil.copytree(POLICY_DIR, folder)
    env = server_env(database_url, folder, policy_poll_seconds="0")
    prepare_demo(env)
    with running_server(env, tmp_path / "server.log") as (base, process):
        before = httpx.post(f"{base}/v1/decisions", json=ALICE_SEARCH).json()
        (folder / "later.cedar").write_text(FORBID_SEARCH)
        time.sleep(0.3)
        unchanged = httpx.post(f"{base}/v1/decisions", json=ALICE_SEARCH).json()
        assert unchanged["policy_version"] == before["policy_version"]  # polling is off
        process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            after = httpx.post(f"{base}/v1/decisions", json=ALICE_SEARCH).json()
            if after["policy_version"] != before["policy_version"]:
                break
            time.sleep(0.1)
        assert after["decision"] == "deny"
        assert after["reasons"] == ["later.cedar#no-search-today"]
