"""Two real server processes sharing PostgreSQL and Redis: a revoke on one holds on the other.

Under concurrent load on loopback, with revocations in the middle, no decision
that starts after a revoke's response has arrived may allow that principal.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_KEY, POLICY_DIR, clean_database
from tests.redis_server import OwnRedis, own_redis
from tests.server import prepare_demo, running_server, server_env

USERS = [f"load-{i:02d}" for i in range(16)]
SEARCH = {"method": "tools/call", "tool": "docs___search", "arguments": {"query": "load"}}
WORKERS = 8
MAX_REQUESTS_PER_WORKER = 3000  # bounded even if something stalls


@pytest.fixture
def replicas(postgres_database: str, tmp_path: Path) -> Iterator[tuple[str, str, OwnRedis]]:
    clean_database(postgres_database)
    with own_redis() as redis_server:
        env = server_env(
            postgres_database,
            POLICY_DIR,
            redis_url=redis_server.url,
            bootstrap_admin_key=ADMIN_KEY,
            decision_log_stdout="false",
            decision_log_database="false",
        )
        prepare_demo(env)
        with (
            running_server(env, tmp_path / "a.log") as (a, _),
            running_server(env, tmp_path / "b.log") as (b, _),
        ):
            yield a, b, redis_server


def body(sub: str) -> dict[str, Any]:
    return {"claims": {"sub": sub}, **SEARCH}


ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


async def test_revoke_on_a_denies_the_next_decision_on_b(
    replicas: tuple[str, str, OwnRedis],
) -> None:
    a, b, redis_server = replicas
    async with httpx.AsyncClient(timeout=10) as http:
        answers = [
            (await http.post(f"{b}/v1/decisions", json=body("alice"))).json() for _ in range(2)
        ]
        assert [(x["decision"], x["cached"]) for x in answers] == [
            ("allow", False),
            ("allow", True),
        ]
        on_a = (await http.post(f"{a}/v1/decisions", json=body("alice"))).json()
        assert (on_a["decision"], on_a["cached"]) == ("allow", True)  # from Redis
        revoked = await http.delete(f"{a}/admin/v1/principals/alice/roles/analyst", headers=ADMIN)
        assert revoked.status_code == 204
        after = (await http.post(f"{b}/v1/decisions", json=body("alice"))).json()
        assert (after["decision"], after["cached"]) == ("deny", False)
    assert redis_server.decision_keys()


async def test_no_stale_allow_under_load_with_revocations(
    replicas: tuple[str, str, OwnRedis],
) -> None:
    a, b, _ = replicas
    revoked_at: dict[str, float] = {}  # monotonic time the revoke's response arrived
    samples: list[tuple[str, float, str, bool]] = []  # user, started, decision, cached
    done = asyncio.Event()

    async with httpx.AsyncClient(timeout=10, limits=httpx.Limits(max_connections=32)) as http:
        for user in USERS:
            put = await http.put(f"{a}/admin/v1/principals/{user}/roles/analyst", headers=ADMIN)
            assert put.status_code == 200

        async def worker(index: int) -> None:
            bases = (a, b)
            for n in range(MAX_REQUESTS_PER_WORKER):
                if done.is_set():
                    return
                user = USERS[(index * 7 + n) % len(USERS)]
                started = time.monotonic()
                response = await http.post(f"{bases[n % 2]}/v1/decisions", json=body(user))
                assert response.status_code == 200
                answer = response.json()
                samples.append((user, started, answer["decision"], answer["cached"]))

        async def revoker() -> None:
            await asyncio.sleep(0.5)  # let the caches fill
            for n, user in enumerate(USERS):
                base = (a, b)[n % 2]  # revoke through either replica
                response = await http.delete(
                    f"{base}/admin/v1/principals/{user}/roles/analyst", headers=ADMIN
                )
                assert response.status_code == 204
                revoked_at[user] = time.monotonic()
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.5)  # keep deciding after the last revoke
            done.set()

        await asyncio.gather(revoker(), *(worker(i) for i in range(WORKERS)))

    after_revoke = [s for s in samples if s[1] > revoked_at[s[0]]]
    stale = [s for s in after_revoke if s[2] == "allow"]
    before_revoke = [s for s in samples if s[1] <= revoked_at[s[0]]]
    cached_allows = [s for s in before_revoke if s[2] == "allow" and s[3]]
    print(
        f"decisions={len(samples)} before_revoke={len(before_revoke)} cached_allows={len(cached_allows)} "
        f"after_revoke={len(after_revoke)} stale_allows={len(stale)}"
    )
    assert stale == []
    assert len(after_revoke) >= len(USERS)  # every revoke was tested against
    assert len(cached_allows) > len(samples) // 4  # the cache was doing the work
