"""The printed table and the goals of the issue, checked on one run's figures."""

from __future__ import annotations

from typing import Any

ROWS = [
    ("mcp_pdp_cache_hit", "mcp-pdp cache-hit"),
    ("mcp_pdp_cache_miss", "mcp-pdp cache-miss"),
    ("cerbos", "Cerbos"),
    ("http_floor", "HTTP floor (/bench/noop)"),
]


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


def goals(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each goal of the issue: the figure, the bar and whether it was met."""
    targets = results["main"]["targets"]
    cerbos, miss, hit = (
        targets["cerbos"],
        targets["mcp_pdp_cache_miss"],
        targets["mcp_pdp_cache_hit"],
    )
    out: list[dict[str, Any]] = []
    if "rps" in hit:
        out.append(_goal("cache-hit rps / Cerbos rps", _ratio(hit["rps"], cerbos["rps"]), ">=", 2))
        out.append(
            _goal("cache-hit p99 / Cerbos p99", _ratio(hit["p99_ms"], cerbos["p99_ms"]), "<=", 1)
        )
    else:
        out.append({"goal": "cache-hit vs Cerbos", "value": hit["status"], "met": None})
    out.append(_goal("cache-miss rps / Cerbos rps", _ratio(miss["rps"], cerbos["rps"]), ">=", 1))
    scale = {(p["policies"], p["tools"]): p for p in results.get("scale", []) if "error" not in p}
    if (200, 100) in scale and (5000, 100) in scale:
        small = scale[(200, 100)]["mcp_pdp"]["p50_ms"]
        big = scale[(5000, 100)]["mcp_pdp"]["p50_ms"]
        out.append(_goal("cache-miss p50 5000 / 200 policies", _ratio(big, small), "<=", 1.5))
    flt = results.get("tools_filter")
    if flt:
        out.append(_goal(f"tools/filter {flt['tools']} tools p99 ms", flt["p99_ms"], "<", 25))
    return out


def _goal(name: str, value: float | None, op: str, bar: float) -> dict[str, Any]:
    met = None
    if value is not None:
        met = {">=": value >= bar, "<=": value <= bar, "<": value < bar}[op]
    return {"goal": f"{name} {op} {bar}", "value": value, "met": met}


def print_report(results: dict[str, Any]) -> None:
    """The table, the scale curve, memory, the filter and the goals."""
    machine = results["machine"]
    config = results["config"]
    print(
        f"\n{machine['cpu']} x{machine['cores']}, {machine['memory_gib']} GiB, "
        f"Python {machine['python']}; mcp-pdp {config['workers']} workers, "
        f"wrk 1 thread {config['connections']} connections, "
        f"{config['rounds']} rounds x {config['seconds']} s (medians)"
    )
    targets = results["main"]["targets"]
    cerbos = targets["cerbos"]
    columns = ("req/s", "p50 ms", "p99 ms", "rps/Cerbos", "p99/Cerbos")
    print(f"\n{'target':28} " + " ".join(f"{c:>10}" for c in columns))
    for key, label in ROWS:
        row = targets[key]
        if "rps" not in row:
            print(f"{label:28} {row['status']}")
            continue
        rps_ratio = _ratio(row["rps"], cerbos["rps"])
        p99_ratio = _ratio(row["p99_ms"], cerbos["p99_ms"])
        print(
            f"{label:28} {row['rps']:>10.0f} {row['p50_ms']:>10.2f} {row['p99_ms']:>10.2f} "
            f"{rps_ratio!s:>10} {p99_ratio!s:>10}"
        )
    if results.get("scale"):
        print("\nscale (cache-miss, 1 connection)   mcp-pdp p50/p99 ms   Cerbos p50/p99 ms")
        for point in results["scale"]:
            if "error" in point:
                print(
                    f"  {point['policies']:>5} policies {point['tools']:>5} tools  {point['error']}"
                )
                continue
            pdp, cer = point["mcp_pdp"], point["cerbos"]
            print(
                f"  {point['policies']:>5} policies {point['tools']:>5} tools"
                f"       {pdp['p50_ms']:>6.2f} / {pdp['p99_ms']:<6.2f}"
                f"      {cer['p50_ms']:>6.2f} / {cer['p99_ms']:<6.2f}"
            )
    memory = results.get("memory")
    if memory:
        print(
            f"\nmemory after {memory['principals']} principals: "
            f"{memory['rss_mib_total_after']} MiB RSS total {memory['rss_mib_after']}"
        )
    flt = results.get("tools_filter")
    if flt:
        print(
            f"tools/filter {flt['tools']} tools ({flt['listed']} listed): "
            f"p50 {flt['p50_ms']:.2f} ms, p99 {flt['p99_ms']:.2f} ms"
        )
    print("\ngoals:")
    for goal in results["goals"]:
        mark = {True: "met", False: "MISSED", None: "n/a"}[goal["met"]]
        print(f"  [{mark:6}] {goal['goal']}: {goal['value']}")
