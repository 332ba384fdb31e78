"""Redis killed or stalled mid-run: decisions go on, correct and uncached by it; back, it caches again."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_KEY, Records, app_client, decision_body, demo_settings, load_demo
from tests.redis_server import OwnRedis, own_redis

RETRY = 0.5  # redis_retry_seconds for these tests


@pytest.fixture
def redis_server() -> Iterator[OwnRedis]:
    with own_redis() as server:
        yield server


async def decide(http: httpx.AsyncClient, sub: str, query: str) -> tuple[dict[str, Any], float]:
    started = time.perf_counter()
    call = {"tool": "docs___search", "arguments": {"query": query}}
    response = await http.post("/v1/decisions", json=decision_body(claims={"sub": sub}, **call))
    assert response.status_code == 200
    return response.json(), time.perf_counter() - started


async def test_redis_killed_and_restarted(database_url: str, redis_server: OwnRedis) -> None:
    await load_demo(database_url)
    settings = demo_settings(
        database_url,
        redis_url=redis_server.url,
        redis_retry_seconds=RETRY,
        redis_timeout_seconds=0.5,  # a loaded test machine; stalls are the next test's
        bootstrap_admin_key=ADMIN_KEY,
    )
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    async with app_client(settings) as http:
        body, _ = await decide(http, "alice", "before")
        assert (body["decision"], body["cached"]) == ("allow", False)
        assert len(redis_server.decision_keys()) == 1

        redis_server.kill()
        for query in ("down-1", "down-2"):  # the first notices, the second skips Redis
            body, seconds = await decide(http, "alice", query)
            assert (body["decision"], body["cached"]) == ("allow", False)
            assert seconds < 1.0
        body, _ = await decide(http, "alice", "down-1")
        assert body["cached"] is True  # the in-process level goes on
        # A write while Redis is away still flips the very next decision.
        revoked = await http.delete("/admin/v1/principals/alice/roles/analyst", headers=admin)
        assert revoked.status_code == 204
        body, _ = await decide(http, "alice", "down-1")
        assert (body["decision"], body["cached"]) == ("deny", False)
        assigned = await http.put("/admin/v1/principals/alice/roles/analyst", headers=admin)
        assert assigned.status_code == 200
        body, _ = await decide(http, "alice", "down-1")
        assert (body["decision"], body["cached"]) == ("allow", False)

        redis_server.start()  # empty: nothing was persisted
        await asyncio.sleep(RETRY + 0.1)
        body, _ = await decide(http, "alice", "after")
        assert (body["decision"], body["cached"]) == ("allow", False)
        assert len(redis_server.decision_keys()) == 1  # stored in Redis again
        metrics = (await http.get("/metrics")).text
        assert 'mcp_pdp_store_errors_total{store="redis"}' in metrics

    # A fresh replica (empty memory) is answered from Redis.
    async with app_client(settings) as replica:
        body, _ = await decide(replica, "alice", "after")
        assert (body["decision"], body["cached"]) == ("allow", True)


async def test_a_stalled_redis_costs_one_short_timeout_per_interval(
    database_url: str, redis_server: OwnRedis
) -> None:
    await load_demo(database_url)
    settings = demo_settings(
        database_url, redis_url=redis_server.url, redis_retry_seconds=3, redis_timeout_seconds=0.05
    )
    records = Records()
    async with app_client(settings) as http:
        logging.getLogger("mcp_pdp.cache").addHandler(records)
        # Open the connection; on a loaded machine the first connect may time out once.
        deadline = time.monotonic() + 10
        while not redis_server.decision_keys() and time.monotonic() < deadline:
            await decide(http, "alice", f"warm-{time.monotonic()}")
            await asyncio.sleep(0.2)
        assert redis_server.decision_keys()
        records.records.clear()
        before = (await http.get("/metrics")).text
        redis_server.pause()
        stalled_at = time.monotonic()
        try:
            timings = []
            for index in range(10):
                body, seconds = await decide(http, "alice", f"stalled-{index}")
                assert (body["decision"], body["cached"]) == ("allow", False)
                timings.append(seconds)
            metrics = (await http.get("/metrics")).text
            stalled_for = time.monotonic() - stalled_at
        finally:
            redis_server.resume()
            logging.getLogger("mcp_pdp.cache").removeHandler(records)
    warnings = [r for r in records.records if r.levelname == "WARNING"]
    assert len(warnings) == 1  # logged once for the interval
    assert "next try in 3 s" in warnings[0].getMessage()
    # One attempt timed out; every later decision of the interval skipped Redis.
    assert stalled_for < 3  # all within one interval
    assert _metric(metrics, ERRORS) - _metric(before, ERRORS) == 1
    assert _metric(metrics, SKIPPED) - _metric(before, SKIPPED) == 9
    assert max(timings) < 1.0


ERRORS = 'mcp_pdp_store_errors_total{store="redis"}'
SKIPPED = 'mcp_pdp_cache_lookups_total{level="redis",result="skipped"}'


def _metric(metrics: str, name: str) -> float:
    for line in metrics.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


async def test_concurrent_calls_share_one_round_trip(redis_server: OwnRedis) -> None:
    from service.cache.remote import RedisLevel, open_redis
    from service.observability.metrics import Metrics

    client = open_redis(redis_server.url, 0.5)
    assert client is not None
    commands: list[str] = []
    original = client.execute_command

    async def counted(*args: Any, **options: Any) -> Any:
        commands.append(str(args[0]))
        return await original(*args, **options)

    client.execute_command = counted  # type: ignore[method-assign]
    level = RedisLevel(client, timeout_seconds=0.5, retry_seconds=RETRY, metrics=Metrics())
    try:
        keys = [f"mcp-pdp:test:batch:{i}" for i in range(8)]
        await asyncio.gather(*(level.set(k, k.encode(), 60_000) for k in keys))
        values = await asyncio.gather(*(level.get(k) for k in [*keys, "mcp-pdp:test:absent"]))
        assert values == [k.encode() for k in keys] + [None]
        assert commands == ["MGET"]  # nine gets, one command; the sets went as one pipeline
        redis_server.kill()
        down = await asyncio.gather(*(level.get(k) for k in keys))
        assert down == [None] * len(keys) and not level.available  # one failure, all misses
    finally:
        await client.aclose()
