"""The benchmark's stages: equivalence check, main rounds, memory, filter, scale curve."""

from __future__ import annotations

import statistics
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench import database, servers
from bench.load import SUBJECT, Result, lua_script, run_wrk
from bench.world import ISSUER, World, cerbos_body, pdp_body

PDP_PORT, CERBOS_PORT = 18080, 13592
PDP = f"http://127.0.0.1:{PDP_PORT}"
CERBOS = f"http://127.0.0.1:{CERBOS_PORT}"
NO_CACHE = "n/a — no cache"


@dataclass
class Config:
    """Knobs of one run; defaults fit a 2-core machine in a few minutes."""

    workers: int = 2
    connections: int = 16
    rounds: int = 3
    seconds: float = 8.0
    warmup: float = 2.0
    scale_seconds: float = 5.0
    principals: int = 10_000
    decision_log_stdout: bool = True


@dataclass
class Bench:
    """Paths, tools and the caller key one run shares across stages."""

    config: Config
    wrk: str
    cerbos_binary: Path
    work: Path
    key: str = ""

    @property
    def headers(self) -> dict[str, str]:
        """What the gateway sends with every decision request."""
        return {"Authorization": f"Bearer {self.key}"}

    def env(self) -> dict[str, str]:
        """mcp-pdp's production settings: Postgres, Redis, caller keys required."""
        config = self.work / "mcp-pdp.toml"
        config.write_text(
            f'[[issuers]]\nissuer = "{ISSUER}"\n'
            'claims_to_attributes = {department = "department", email = "email"}\n'
        )
        tomllib.loads(config.read_text())
        return {
            "MCP_PDP_CONFIG": str(config),
            "MCP_PDP_DATABASE_URL": database.URL,
            "MCP_PDP_REDIS_URL": "redis://127.0.0.1:6379/15",
            "MCP_PDP_POLICY_DIR": str(self.work / "policies"),
            "MCP_PDP_REQUIRE_CALLER_KEY": "true",
            "MCP_PDP_DECISION_LOG_STDOUT": str(self.config.decision_log_stdout).lower(),
            "MCP_PDP_LOG_LEVEL": "WARNING",
        }

    def use_world(self, world: World) -> None:
        """Write both engines' policies for `world` and register its tools."""
        world.write_policies(self.work / "policies")
        world.write_cerbos(self.work / "cerbos-policies")
        database.switch_world(world)

    def pdp(self, workers: int | None = None) -> Any:
        """A running mcp-pdp on the current world."""
        return servers.mcp_pdp(
            self.env(),
            port=PDP_PORT,
            workers=workers or self.config.workers,
            log=self.work / "mcp-pdp.log",
        )

    def cerbos(self) -> Any:
        """A running Cerbos on the current world."""
        return servers.cerbos(
            self.cerbos_binary,
            self.work / "cerbos-policies",
            port=CERBOS_PORT,
            log=self.work / "cerbos.log",
        )

    def load(
        self,
        name: str,
        url: str,
        bodies: list[dict[str, Any]],
        *,
        unique: bool,
        seconds: float,
        connections: int | None = None,
        timeout: float = 5.0,
    ) -> Result:
        """One wrk run against `url` with `bodies` (SUBJECT placeholders filled per request)."""
        script = self.work / f"{name}.lua"
        headers = self.headers if url.startswith(PDP) else {}
        script.write_text(
            lua_script("/" + url.split("/", 3)[3], bodies, unique=unique, headers=headers)
        )
        result = run_wrk(
            self.wrk,
            url,
            script,
            seconds=seconds,
            connections=connections or self.config.connections,
            timeout=timeout,
        )
        if result.non2xx or result.socket_errors:
            raise RuntimeError(f"{name}: {result.non2xx} non-2xx, {result.socket_errors} errors")
        return result


def check_equivalence(bench: Bench, world: World) -> dict[str, Any]:
    """Every template, fresh subject, both engines: the same allow/deny, or the run stops."""
    allowed = mismatched = 0
    with httpx.Client(timeout=10) as client:
        for index, template in enumerate(world.templates):
            subject = f"equivalence-{index}"
            pdp = client.post(
                f"{PDP}/v1/decisions", json=pdp_body(template, subject), headers=bench.headers
            ).json()
            answer = client.post(
                f"{CERBOS}/api/check/resources", json=cerbos_body(template, subject)
            ).json()
            cerbos_allows = answer["results"][0]["actions"][template.tool] == "EFFECT_ALLOW"
            pdp_allows = pdp["decision"] == "allow"
            allowed += pdp_allows
            mismatched += pdp_allows != cerbos_allows
    if mismatched:
        raise RuntimeError(f"mcp-pdp and Cerbos disagree on {mismatched} requests")
    return {"requests": len(world.templates), "allowed": allowed, "mismatched": 0}


def cache_present(bench: Bench, world: World) -> bool:
    """Whether a repeated decision comes back `cached: true` (the decision cache is in)."""
    body = pdp_body(world.templates[0], "cache-probe")
    with httpx.Client(timeout=10) as client:
        answers = [
            client.post(f"{PDP}/v1/decisions", json=body, headers=bench.headers).json()
            for _ in range(3)
        ]
    return any(a.get("cached") is True for a in answers[1:])


def main_rounds(bench: Bench, world: World, *, cached: bool) -> dict[str, Any]:
    """The four targets, alternating round by round; medians of the rounds."""
    pdp_bodies = [pdp_body(t, SUBJECT) for t in world.templates]
    cerbos_bodies = [cerbos_body(t, SUBJECT) for t in world.templates]
    targets: dict[str, tuple[str, list[dict[str, Any]], bool]] = {
        "http_floor": (f"{PDP}/bench/noop", pdp_bodies, True),
        "mcp_pdp_cache_miss": (f"{PDP}/v1/decisions", pdp_bodies, True),
        "cerbos": (f"{CERBOS}/api/check/resources", cerbos_bodies, True),
    }
    if cached:
        targets["mcp_pdp_cache_hit"] = (f"{PDP}/v1/decisions", pdp_bodies, False)
    config = bench.config
    for name, (url, bodies, unique) in targets.items():
        bench.load(name, url, bodies, unique=unique, seconds=config.warmup)
    runs: dict[str, list[Result]] = {name: [] for name in targets}
    names = list(targets)
    for round_index in range(config.rounds):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            url, bodies, unique = targets[name]
            runs[name].append(bench.load(name, url, bodies, unique=unique, seconds=config.seconds))
    summary = {name: median(results) for name, results in runs.items()}
    if not cached:
        summary["mcp_pdp_cache_hit"] = {"status": NO_CACHE}
    return {"targets": summary, "runs": {k: [r.as_dict() for r in v] for k, v in runs.items()}}


def median(results: list[Result]) -> dict[str, Any]:
    """Median requests/s, p50 and p99 over rounds."""
    return {
        "rps": round(statistics.median(r.rps for r in results), 1),
        "p50_ms": round(statistics.median(r.p50_ms for r in results), 3),
        "p99_ms": round(statistics.median(r.p99_ms for r in results), 3),
        "rounds": len(results),
    }


def memory(bench: Bench, pid: int) -> dict[str, Any]:
    """RSS of the server's processes after one pass over every stored principal."""
    before = {p: round(servers.rss_mib(p), 1) for p in servers.tree(pid)}
    bodies = [
        {
            "claims": {"sub": SUBJECT, "iss": ISSUER, "scope": "scope_0"},
            "method": "tools/call",
            "tool": "bench___t0000",
            "arguments": {"q": "x"},
        }
    ]
    script = bench.work / "memory.lua"
    passes = 0
    while passes < bench.config.principals:
        text = lua_script("/v1/decisions", bodies, unique=False, headers=bench.headers)
        # Subjects u1..uN, continuing where the last run stopped: every stored principal.
        script.write_text(
            text.replace('"u" .. k', f'"u" .. ((i - 1 + {passes}) % {bench.config.principals} + 1)')
        )
        result = run_wrk(bench.wrk, f"{PDP}/v1/decisions", script, seconds=5, connections=8)
        passes += result.requests
    after = {p: round(servers.rss_mib(p), 1) for p in servers.tree(pid)}
    return {
        "principals": bench.config.principals,
        "requests": passes,
        "rss_mib_before": before,
        "rss_mib_after": after,
        "rss_mib_total_after": round(sum(after.values()), 1),
    }


def tools_filter(bench: Bench, world: World) -> dict[str, Any]:
    """`POST /v1/tools/filter` over all tools of `world`; new principal per call, 1 connection."""
    template = world.templates[0]
    claims = pdp_body(template, SUBJECT)["claims"]
    body = {"claims": claims, "tools": world.tools_list()["tools"]}
    url = f"{PDP}/v1/tools/filter"
    seconds = bench.config.warmup
    bench.load("filter", url, [body], unique=True, seconds=seconds, connections=1, timeout=60)
    result = bench.load(
        "filter",
        f"{PDP}/v1/tools/filter",
        [body],
        unique=True,
        seconds=bench.config.seconds,
        connections=1,
        timeout=60,
    )
    with httpx.Client(timeout=30) as client:
        answer = client.post(
            f"{PDP}/v1/tools/filter",
            json={**body, "claims": {**claims, "sub": "f"}},
            headers=bench.headers,
        ).json()
    return {
        "tools": world.tools,
        "policies": len(world.rules),
        "listed": len(answer["tools"]),
        **result.as_dict(),
    }


def scale_point(bench: Bench, world: World) -> dict[str, Any]:
    """Cache-miss latency on one connection, mcp-pdp and Cerbos, for one world."""
    bodies = [pdp_body(t, SUBJECT) for t in world.templates]
    seconds = bench.config.scale_seconds
    with bench.pdp():
        bench.load("scale", f"{PDP}/v1/decisions", bodies, unique=True, seconds=1, connections=1)
        pdp = bench.load(
            "scale", f"{PDP}/v1/decisions", bodies, unique=True, seconds=seconds, connections=1
        )
    cerbos_bodies = [cerbos_body(t, SUBJECT) for t in world.templates]
    with bench.cerbos():
        url = f"{CERBOS}/api/check/resources"
        bench.load("scale-c", url, cerbos_bodies, unique=True, seconds=1, connections=1)
        cerbos = bench.load(
            "scale-c", url, cerbos_bodies, unique=True, seconds=seconds, connections=1
        )
    return {
        "tools": world.tools,
        "policies": len(world.rules),
        "mcp_pdp": pdp.as_dict(),
        "cerbos": cerbos.as_dict(),
    }
