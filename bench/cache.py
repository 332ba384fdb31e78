"""Cache-hit vs cache-miss decisions, in the same run.

    .venv/bin/python -m bench.cache [--requests 2000] [--concurrency 8]
        [--database-url URL] [--redis-url redis://127.0.0.1:6379/0]

Two levels, both against a freshly migrated database with the demo policies and
seed (a temporary SQLite file unless `--database-url` names a PostgreSQL one):

- service: `DecisionService.decide` called in process, one at a time, so the
  figures are the decision path itself (identity, generation read, cache or
  store + Cedar, decision log queue, metrics);
- http: a real `mcp-pdp serve` process on loopback, `--concurrency` clients.

A hit repeats one request; a miss changes an argument on every request, so
nothing can be reused but the work is the same. Reports p50/p99 latency,
throughput, and the miss/hit ratios. With `--redis-url`, misses also store
into Redis and hits are served from the in-process level.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from bench.token_verify import load_demo
from service.app import create_app
from service.decide.service import Identity
from service.engine.model import Action
from service.settings import Settings
from service.store.migrate import migrate
from tests.server import running_server, server_env

ROOT = Path(__file__).resolve().parent.parent
CLAIMS = {"sub": "alice"}  # analyst: docs___search is allowed


async def prepare(url: str) -> None:
    """Migrate, empty the demo tables, register the demo tools and apply the seed."""
    migrate(Settings(database_url=url))
    await load_demo(url)


def summary(latencies: list[float], seconds: float) -> dict[str, float]:
    """p50/p99 in microseconds and decisions per second."""
    ordered = sorted(latencies)
    return {
        "p50_us": round(statistics.median(ordered) * 1e6),
        "p99_us": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e6),
        "per_s": round(len(ordered) / seconds),
    }


async def measure(
    one: Callable[[int], Awaitable[bool]], requests: int, concurrency: int
) -> dict[str, float]:
    """Run `one(i)` for i in range(requests) on `concurrency` tasks; checks every answer."""
    latencies: list[float] = []
    counter = iter(range(requests))

    async def worker() -> None:
        for index in counter:
            started = time.perf_counter()
            assert await one(index), "every benchmark decision is an allow"
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return summary(latencies, time.perf_counter() - started)


def call(index: int | None) -> dict[str, Any]:
    """docs___search; a new query per index (a miss), the same one for None (a hit)."""
    query = "hit" if index is None else f"miss-{index}-{time.time_ns()}"
    return {"method": "tools/call", "tool": "docs___search", "arguments": {"query": query}}


async def service_level(settings: Settings, requests: int) -> dict[str, Any]:
    """Decisions in process, one at a time."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        service = app.state.runtime.decisions
        identity = Identity(claims=CLAIMS)

        async def decide(index: int | None) -> bool:
            outcome = await service.decide(identity, Action(**call(index)))
            return bool(outcome.decision.allowed) and outcome.cached == (index is None)

        await service.decide(identity, Action(**call(None)))  # cache the hit request
        assert await decide(-1)  # warm up the miss path
        hit = await measure(lambda _: decide(None), requests, 1)
        miss = await measure(decide, requests, 1)
    return {"level": "service", "concurrency": 1, "hit": hit, "miss": miss, **ratios(hit, miss)}


async def http_level(env: dict[str, str], requests: int, concurrency: int) -> dict[str, Any]:
    """Decisions over HTTP against a real server on loopback."""
    with (
        tempfile.TemporaryDirectory() as folder,
        running_server(env, Path(folder) / "log") as (
            base,
            _,
        ),
    ):
        limits = httpx.Limits(max_connections=concurrency)
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=10) as http:

            async def decide(index: int | None) -> bool:
                response = await http.post("/v1/decisions", json={"claims": CLAIMS, **call(index)})
                body = response.json()
                return bool(body["decision"] == "allow" and body["cached"] == (index is None))

            await http.post("/v1/decisions", json={"claims": CLAIMS, **call(None)})
            hit = await measure(lambda _: decide(None), requests, concurrency)
            miss = await measure(decide, requests, concurrency)
    return {
        "level": "http",
        "concurrency": concurrency,
        "hit": hit,
        "miss": miss,
        **ratios(hit, miss),
    }


def ratios(hit: dict[str, float], miss: dict[str, float]) -> dict[str, float]:
    """How much faster a hit is: latency (miss/hit) and throughput (hit/miss)."""
    return {
        "p50_ratio": round(miss["p50_us"] / hit["p50_us"], 1),
        "p99_ratio": round(miss["p99_us"] / hit["p99_us"], 1),
        "throughput_ratio": round(hit["per_s"] / miss["per_s"], 1),
    }


def main() -> None:
    """Print one JSON line per level."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--database-url")
    parser.add_argument("--redis-url")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = options.database_url or f"sqlite:///{folder}/bench.db"
        asyncio.run(prepare(url))
        quiet = {
            "log_level": "WARNING",
            "decision_log_stdout": False,
            "decision_log_database": False,
        }
        extra = {"redis_url": options.redis_url} if options.redis_url else {}
        settings = Settings(database_url=url, policy_dir=ROOT / "policies", **quiet, **extra)
        print(json.dumps(asyncio.run(service_level(settings, options.requests))), flush=True)
        env = server_env(
            url,
            ROOT / "policies",
            **{
                k: str(v).lower() if isinstance(v, bool) else str(v)
                for k, v in {**quiet, **extra}.items()
            },
        )
        os.environ.pop("MCP_PDP_CONFIG", None)
        result = asyncio.run(http_level(env, options.requests, options.concurrency))
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
