"""What token verification costs per decision: claims path vs token path (RS256, ES256).

Run from the repository root: `.venv/bin/python -m bench.token_verify [--rounds R] [--n N]`.
The app is the real one (`create_app` + lifespan) on a throwaway SQLite file with
the demo data; the identity provider is a loopback JWKS server with keys made
here. Variants are interleaved round by round, so drift hits them all alike.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

from service.app import create_app
from service.decide.service import DecisionService, Identity
from service.engine.model import Action
from service.identity.verifier import open_verifier
from service.policies.registry import sync_tools
from service.settings import Settings
from service.store.db import create_engine, session_factory
from service.store.migrate import migrate
from service.store.seed import apply_seed
from tests.idp import LoopbackIdP

ROOT = Path(__file__).resolve().parent.parent
ACTION = Action(method="tools/call", tool="docs___search", arguments={"query": "q"})


async def load_demo(url: str) -> None:
    """Demo tools and seed, as `make demo-data` loads them."""
    engine = create_engine(url)
    async with session_factory(engine)() as session, session.begin():
        await sync_tools(
            session=session,
            document=json.loads((ROOT / "demo/tools.json").read_text()),
            policy_dir=ROOT / "policies",
        )
        await apply_seed(
            session=session, document=json.loads((ROOT / "demo/seed.json").read_text())
        )
    await engine.dispose()


async def per_call(call: Callable[[], Awaitable[Any]], n: int) -> float:
    """Mean seconds per call over `n` sequential calls."""
    started = time.perf_counter()
    for _ in range(n):
        await call()
    return (time.perf_counter() - started) / n


async def measure(rounds: int, n: int, url: str | None) -> dict[str, dict[str, float]]:
    """Median and best µs per decision and per bare verification, for each variant."""
    with tempfile.TemporaryDirectory() as tmp, LoopbackIdP() as idp:
        url = url or f"sqlite:///{tmp}/bench.db"
        migrate(Settings(database_url=url))
        await load_demo(url)
        rsa, ec = idp.add_key("rs", "RS256"), idp.add_key("ec", "ES256")
        settings = Settings(
            database_url=url,
            policy_dir=ROOT / "policies",
            issuers=[idp.settings()],
            log_level="WARNING",  # decision logs off: the bench measures deciding
        )
        app = create_app(settings)
        async with app.router.lifespan_context(app), open_verifier(settings) as verifier:
            service: DecisionService = app.state.runtime.decisions
            claims = idp.claims(exp=int(time.time()) + 3600)
            tokens = {"RS256": idp.token(rsa, **claims), "ES256": idp.token(ec, **claims)}
            identities = {"claims": Identity(claims=claims)}
            identities |= {f"token {alg}": Identity(token=t) for alg, t in tokens.items()}
            for identity in identities.values():  # warm up: JWKS fetch, caches, code paths
                outcome = await service.decide(identity, ACTION)
                assert outcome.decision.allowed, outcome.decision
                await per_call(partial(service.decide, identity, ACTION), 200)

            samples: dict[str, list[float]] = {name: [] for name in identities}
            samples |= {f"verify {alg}": [] for alg in tokens}
            calls: dict[str, Callable[[], Awaitable[Any]]] = {
                name: partial(service.decide, identity, ACTION)
                for name, identity in identities.items()
            }
            calls |= {f"verify {alg}": partial(verifier.verify, t) for alg, t in tokens.items()}
            for _ in range(rounds):
                order = list(calls)
                random.shuffle(order)
                for name in order:
                    samples[name].append(await per_call(calls[name], n))
    return {
        name: {"median_us": statistics.median(s) * 1e6, "min_us": min(s) * 1e6}
        for name, s in samples.items()
    }


ROW = "{:<14} {:>10} {:>9} {:>15} {:>12}"


def table(results: dict[str, dict[str, float]]) -> str:
    """A small table: µs per call and each decision's ratio to the claims path."""
    base = results["claims"]
    rows = [ROW.format("variant", "median µs", "min µs", "ratio (median)", "ratio (min)")]
    for name, r in results.items():
        ratios = ["-", "-"]
        if not name.startswith("verify"):
            ratios = [f"{r[k] / base[k]:.2f}" for k in ("median_us", "min_us")]
        rows.append(ROW.format(name, f"{r['median_us']:.1f}", f"{r['min_us']:.1f}", *ratios))
    return "\n".join(rows)


def main() -> None:
    """Parse arguments, measure, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=10, help="interleaved rounds (default 10)")
    parser.add_argument("--n", type=int, default=200, help="calls per variant per round")
    parser.add_argument("--database-url", help="default: a throwaway SQLite file")
    args = parser.parse_args()
    results = asyncio.run(measure(args.rounds, args.n, args.database_url))
    where = (args.database_url or "sqlite").split(":", 1)[0]
    print(f"{args.rounds} rounds x {args.n} calls per variant; {where}, demo data")
    print(table(results))
    for alg in ("RS256", "ES256"):
        extra = results[f"token {alg}"]["median_us"] - results["claims"]["median_us"]
        print(
            f"token {alg}: +{extra:.0f} µs per decision (median); bare verify "
            f"{results[f'verify {alg}']['median_us']:.0f} µs"
        )


if __name__ == "__main__":
    main()
