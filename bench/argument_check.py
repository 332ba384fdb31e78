"""What checking arguments costs per decision: the schema validator next to the Cedar conversion.

    .venv/bin/python -m bench.argument_check [--number 20000]

One typical tool with five arguments (a string, an integer with bounds, a
string enum, an optional string, an optional list of strings), as a Python
MCP server emits it; one valid call. Reports µs per call, the best of five
`timeit` repeats, for the compiled jsonschema validator (`Tool.validator`),
for `convert` (the Cedar conversion alone), for `Tool.call_context` (both,
with defaults and date-time facts: what a decision runs), and, for scale, one
whole uncached decision of that call by `DecisionService.decide` on the demo
policies (claims, no store, no cache, no log).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import timeit
from pathlib import Path
from typing import Any

from service.decide.fixed import FixedFacts, FixedPolicies
from service.decide.service import DecisionService
from service.engine.input_types import convert
from service.engine.model import Action
from service.engine.policies import load_snapshot
from service.engine.tools import Tool, tools_from_list_result
from service.identity.resolver import Identity, IdentityResolver

ROOT = Path(__file__).resolve().parent.parent

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "query": {"type": "string", "maxLength": 200},
        "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
        "order": {"enum": ["asc", "desc"], "type": "string"},
        "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
        "tags": {
            "anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "null"}],
            "default": None,
        },
    },
    "required": ["query", "order"],
}
ARGUMENTS = {"query": "revenue 2026", "limit": 20, "order": "desc", "note": None, "tags": ["a"]}


def main() -> None:
    """Print µs per call for the validator, the conversion and both."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--number", type=int, default=20_000)
    number = parser.parse_args().number
    tool = Tool("bench___search", input_schema=SCHEMA)
    tool.prepare()
    cases = {
        "jsonschema validator (compiled)": lambda: tool.validator.check(ARGUMENTS),
        "convert (Cedar conversion)": lambda: convert(tool.input_type, ARGUMENTS),
        "call_context (both)": lambda: tool.call_context(ARGUMENTS),
    }
    for name, call in cases.items():
        best = min(timeit.repeat(call, number=number, repeat=5)) / number
        print(f"{name:34} {best * 1e6:7.2f} µs")
    best = min(asyncio.run(_decisions(number // 10)) for _ in range(5))
    print(f"{'whole decision (service, uncached)':34} {best * 1e6:7.2f} µs")


async def _decisions(number: int) -> float:
    """Seconds per uncached decision of the bench call, demo policies, fixed facts."""
    demo = json.loads((ROOT / "demo" / "tools.json").read_text())["tools"]
    tools = tools_from_list_result([*demo, {"name": "bench___search", "inputSchema": SCHEMA}])
    service = DecisionService(
        policies=FixedPolicies(load_snapshot(ROOT / "policies", tools)),
        facts=FixedFacts(),
        identity=IdentityResolver(),
    )
    identity = Identity(claims={"sub": "bench"})
    action = Action(method="tools/call", tool="bench___search", arguments=ARGUMENTS)
    started = time.perf_counter()
    for _ in range(number):
        await service.decide(identity, action)
    return (time.perf_counter() - started) / number


if __name__ == "__main__":
    main()
