"""`python -m bench`: mcp-pdp (production shape) against Cerbos, in one run.

    .venv/bin/python -m bench [--quick] [--workers 2] [--rounds 3] [--seconds 8]

Starts mcp-pdp (uvicorn workers, PostgreSQL, Redis, caller keys required, the
decision log on) and Cerbos (its binary from the `cerbos` npm package, audit
off) on loopback with equivalent generated policies, checks they agree, then
drives both with wrk (one thread) in alternating rounds. Prints the table and
writes `bench/results/<time>.json` with the machine description.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import database, servers, stages
from bench.report import goals, print_report
from bench.world import make_world

RESULTS = Path(__file__).resolve().parent / "results"
MAIN_WORLD = {"tools": 100, "policies": 1000}
FILTER_WORLD = {"tools": 500, "policies": 1000}
SCALE = [(200, 100), (1000, 100), (5000, 100), (200, 1000), (1000, 1000), (5000, 1000)]


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    config = stages.Config()
    parser.add_argument("--workers", type=int, default=config.workers)
    parser.add_argument("--connections", type=int, default=config.connections)
    parser.add_argument("--rounds", type=int, default=config.rounds)
    parser.add_argument("--seconds", type=float, default=config.seconds)
    parser.add_argument("--quick", action="store_true", help="short rounds, fewer scale points")
    parser.add_argument(
        "--skip",
        nargs="*",
        default=[],
        choices=["memory", "filter", "scale"],
        help="stages to skip",
    )
    parser.add_argument(
        "--no-stdout-log", action="store_true", help="decision log to the database only"
    )
    return parser.parse_args()


def main() -> None:
    """Run every stage and report."""
    args = _arguments()
    config = stages.Config(
        workers=args.workers,
        connections=args.connections,
        rounds=1 if args.quick else args.rounds,
        seconds=3 if args.quick else args.seconds,
        warmup=1 if args.quick else 2,
        scale_seconds=2 if args.quick else 5,
        principals=2000 if args.quick else 10_000,
        decision_log_stdout=not args.no_stdout_log,
    )
    work = servers.CACHE / "run"
    work.mkdir(parents=True, exist_ok=True)
    bench = stages.Bench(config, servers.ensure_wrk(), servers.ensure_cerbos(), work)
    started = time.monotonic()
    world = make_world(**MAIN_WORLD)
    print(f"preparing PostgreSQL ({config.principals} principals) ...", flush=True)
    bench.key = database.prepare(world, principals=config.principals)
    bench.use_world(world)
    results: dict[str, Any] = {"world": MAIN_WORLD, "config": vars(config)}
    with bench.pdp() as pid, bench.cerbos():
        results["equivalence"] = stages.check_equivalence(bench, world)
        cached = stages.cache_present(bench, world)
        print(f"decisions agree; decision cache {'on' if cached else 'absent'}", flush=True)
        results["main"] = stages.main_rounds(bench, world, cached=cached)
        if "memory" not in args.skip:
            results["memory"] = stages.memory(bench, pid)
    if "filter" not in args.skip:
        filter_world = make_world(**FILTER_WORLD)
        bench.use_world(filter_world)
        try:
            with bench.pdp():
                results["tools_filter"] = stages.tools_filter(bench, filter_world)
        except RuntimeError as exc:  # reported, and the run goes on
            print(f"tools/filter stage failed: {exc}", flush=True)
    if "scale" not in args.skip:
        points = SCALE[:3] if args.quick else SCALE
        results["scale"] = []
        for policies, tools in points:
            print(f"scale: {policies} policies, {tools} tools ...", flush=True)
            point_world = make_world(tools=tools, policies=policies)
            bench.use_world(point_world)
            try:
                results["scale"].append(stages.scale_point(bench, point_world))
            except RuntimeError as exc:  # one point failing must not lose the run
                results["scale"].append({"policies": policies, "tools": tools, "error": str(exc)})
    results["goals"] = goals(results)
    results["machine"] = servers.machine()
    results["seconds"] = round(time.monotonic() - started, 1)
    print_report(results)
    RESULTS.mkdir(exist_ok=True)
    name = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(results, indent=1) + "\n")
    print(f"\nresults: {path.relative_to(RESULTS.parent.parent)}")


if __name__ == "__main__":
    main()
