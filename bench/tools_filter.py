"""`tools/filter` over N tools vs N single decisions, in the same run.

    .venv/bin/python -m bench.tools_filter [--rounds 5]

Both sides run in process on a fresh SQLite database with the demo policies and
seed: the service level (`DecisionService.filter_tools` vs N calls of `DecisionService.decide`, each
reading the store) and the HTTP level (one `POST /v1/tools/filter` vs N
`POST /v1/decisions`, ASGI in process, no network). N = 50 is the demo registry;
N = 500 adds 450 copies of the demo tools (same annotations and tags, new names),
the shape of a big gateway whose policies speak of groups. Reports medians.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from service.app import create_app
from service.decide.service import Identity
from service.engine.model import Action
from service.policies.registry import sync_tools
from service.settings import Settings
from service.store.db import create_engine, session_factory
from service.store.migrate import migrate
from service.store.seed import apply_seed

ROOT = Path(__file__).resolve().parent.parent
CLAIMS = {"sub": "dave", "scope": "tools:write"}  # admin: most tools are listed


def registry(count: int) -> list[dict[str, Any]]:
    """The demo tools, then renamed copies until there are `count`."""
    demo: list[dict[str, Any]] = json.loads((ROOT / "demo" / "tools.json").read_text())["tools"]
    tools = list(demo)
    copy = 0
    while len(tools) < count:
        template = demo[copy % len(demo)]
        tools.append({**template, "name": f"{template['name']}_{copy // len(demo) + 2}"})
        copy += 1
    return tools[:count]


def arguments(schema: dict[str, Any]) -> dict[str, Any]:
    """A valid call: every required argument with a plain value."""
    plain = {"integer": 1, "number": 1, "boolean": True, "array": [], "object": {}}
    out: dict[str, Any] = {}
    for name in schema.get("required", []):
        node = schema.get("properties", {}).get(name, {})
        kind = node.get("type")
        kind = kind[0] if isinstance(kind, list) else kind
        if "enum" in node:
            out[name] = node["enum"][0]
        else:
            out[name] = plain.get(kind, "/data/reports/q1.csv" if "path" in name else "x")
    return out


async def prepare(url: str, tools: list[dict[str, Any]]) -> None:
    """Migrate, register the tools and apply the demo seed."""
    migrate(Settings(database_url=url))
    engine = create_engine(url)
    seed = json.loads((ROOT / "demo" / "seed.json").read_text())
    async with session_factory(engine)() as session, session.begin():
        await sync_tools(session=session, document={"tools": tools}, policy_dir=ROOT / "policies")
        await apply_seed(session=session, document=seed)
    await engine.dispose()


async def timed(work: Any, rounds: int) -> float:
    """Median seconds of `rounds` runs of the coroutine factory `work`, after a warm-up."""
    await work()
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        await work()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


async def run(count: int, rounds: int) -> dict[str, Any]:
    """Measure both levels for one registry size."""
    tools = registry(count)
    calls = [Action("tools/call", t["name"], arguments(t.get("inputSchema", {}))) for t in tools]
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.db"
        await prepare(url, tools)
        settings = Settings(
            database_url=url, policy_dir=ROOT / "policies", max_body_bytes=16 * 1024 * 1024,
            log_level="WARNING",
            cache_enabled=False,  # repeated singles would be cache hits: compare the work itself
        )  # fmt: skip
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            service = app.state.runtime.decisions
            identity = Identity(claims=CLAIMS)
            names = [t["name"] for t in tools]
            listing = await service.filter_tools(identity, names, "default", {})
            allowed = [(await service.decide(identity, c)).decision.allowed for c in calls]
            listed = [v.listed for v in listing.verdicts]
            # Sound on this registry: every tool a plain call may use is listed.
            assert all(ok <= shown for ok, shown in zip(allowed, listed, strict=True))

            async def one_filter() -> None:
                await service.filter_tools(identity, names, "default", {})

            async def singles() -> None:
                for call in calls:
                    await service.decide(identity, call)

            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://pdp") as http:

                async def http_filter() -> None:
                    body = {"claims": CLAIMS, "tools": tools}
                    response = await http.post("/v1/tools/filter", json=body)
                    assert response.status_code == 200

                async def http_singles() -> None:
                    for call in calls:
                        body = {"claims": CLAIMS, "method": call.method, "tool": call.tool,
                                "arguments": call.arguments}  # fmt: skip
                        assert (await http.post("/v1/decisions", json=body)).status_code == 200

                service_filter = await timed(one_filter, rounds)
                service_singles = await timed(singles, rounds)
                http_one = await timed(http_filter, rounds)
                http_many = await timed(http_singles, rounds)
    return {
        "tools": count,
        "listed": sum(listed),
        "service_filter_ms": round(service_filter * 1e3, 2),
        "service_singles_ms": round(service_singles * 1e3, 2),
        "service_ratio": round(service_singles / service_filter, 1),
        "http_filter_ms": round(http_one * 1e3, 2),
        "http_singles_ms": round(http_many * 1e3, 2),
        "http_ratio": round(http_many / http_one, 1),
    }


def main() -> None:
    """Run the benchmark for 50 and 500 tools and print one JSON line each."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 500])
    options = parser.parse_args()
    for size in options.sizes:
        print(json.dumps(asyncio.run(run(size, options.rounds))), flush=True)


if __name__ == "__main__":
    main()
