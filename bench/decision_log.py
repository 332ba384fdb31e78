"""What the decision log costs: decision throughput with logging to file + database vs off.

Run from the repository root: `.venv/bin/python -m bench.decision_log [--rounds R] [--n N]`.
Both variants are the real app (`create_app` + lifespan, HTTP through the ASGI
stack) on the same SQLite file with the demo data, driven with the same
concurrent load; rounds alternate between them so drift hits both alike.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.token_verify import load_demo
from service.app import create_app
from service.settings import Settings
from service.store.migrate import migrate

ROOT = Path(__file__).resolve().parent.parent
BODY = {
    "claims": {"sub": "bob", "scope": "tools:write"},
    "method": "tools/call",
    "tool": "payments___refund",
    "arguments": {"orderId": "A-1", "amount": 450},
}


async def throughput(client: httpx.AsyncClient, n: int, concurrency: int) -> float:
    """Decisions per second for `n` decisions, `concurrency` at a time."""
    queue = list(range(n))

    async def worker() -> None:
        while queue:
            queue.pop()
            response = await client.post("/v1/decisions", json=BODY)
            assert response.json()["decision"] == "allow", response.text

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return n / (time.perf_counter() - started)


async def measure(rounds: int, n: int, concurrency: int) -> dict[str, Any]:
    """Median decisions/s per variant and the overhead of logging."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        migrate(Settings(database_url=url))
        await load_demo(url)
        common: dict[str, Any] = {
            "database_url": url,
            "policy_dir": ROOT / "policies",
            "log_level": "WARNING",
            "policy_poll_seconds": 0,
            "cache_enabled": False,  # every request a full decision
        }
        variants = {
            "logging off": Settings(
                **common, decision_log_stdout=False, decision_log_database=False
            ),
            "file only": Settings(
                **common,
                decision_log_stdout=False,
                decision_log_file=Path(tmp) / "decisions-only.log",
                decision_log_database=False,
            ),
            "file + database": Settings(
                **common,
                decision_log_stdout=False,
                decision_log_file=Path(tmp) / "decisions.log",
                decision_log_database=True,
            ),
        }
        results: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(rounds):
            for name, settings in variants.items():
                app = create_app(settings)
                async with app.router.lifespan_context(app):
                    transport = httpx.ASGITransport(app=app)
                    async with httpx.AsyncClient(transport=transport, base_url="http://b") as c:
                        await throughput(c, 50, concurrency)  # warm up
                        results[name].append(await throughput(c, n, concurrency))
                        # Count the writes: the database sink must keep up, not lag behind.
                        await app.state.runtime.decision_log.flush()
        medians = {name: statistics.median(v) for name, v in results.items()}
        overhead = 1 - medians["file + database"] / medians["logging off"]
        return {"decisions_per_second": medians, "overhead": overhead, "rounds": results}


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    result = asyncio.run(measure(args.rounds, args.n, args.concurrency))
    print(f"{'variant':<18}{'decisions/s (median)':>22}")
    for name, value in result["decisions_per_second"].items():
        print(f"{name:<18}{value:>22.0f}")
    print(f"logging overhead: {result['overhead']:.1%} of throughput")


if __name__ == "__main__":
    main()
