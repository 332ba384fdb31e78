"""Policy authoring commands: check, test, fmt, schema, decide."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import cedarpy

from service.cli.common import EXIT_INVALID, EXIT_OK, in_session
from service.decide.fixed import FixedFacts, FixedPolicies
from service.decide.service import DecisionService
from service.engine.input_schema import explain as explain_hidden
from service.engine.model import Action, Decision, StoredPrincipal
from service.engine.policies import PolicySnapshot, load_snapshot, read_policy_dir
from service.engine.schema import full_schema_text
from service.engine.tools import Tool, tools_from_list_result
from service.identity.resolver import Identity, IdentityResolver
from service.settings import Settings
from service.store.db import create_engine, session_factory
from service.store.facts import DatabaseFacts
from service.store.seed import read_json
from service.store.tools import load_tools


def _tools(args: argparse.Namespace, settings: Settings) -> list[Tool]:
    """Tools from `--tools FILE`, else from the database registry."""
    if args.tools:
        return tools_from_list_result(read_json(Path(args.tools)))
    tools: list[Tool] = asyncio.run(in_session(settings, lambda s: load_tools(session=s)))
    return tools


def _policy_dir(args: argparse.Namespace, settings: Settings) -> Path:
    return Path(args.dir) if args.dir else settings.policy_dir


def check(args: argparse.Namespace, settings: Settings) -> int:
    """Parse and strictly validate the policies against the generated schema."""
    tools = _tools(args, settings)
    snapshot = load_snapshot(_policy_dir(args, settings), tools)
    shadow = sum(1 for p in snapshot.policies.values() if p.shadow)
    print(
        f"ok: {len(snapshot.policies)} policies ({shadow} shadow), {len(tools)} tools, "
        f"{snapshot.version}"
    )
    return EXIT_OK


def test(args: argparse.Namespace, settings: Settings) -> int:
    """Run the policy test cases; print each failure and `N passed, M failed`."""
    from service.policies.cases import run_dir

    policy_dir = _policy_dir(args, settings)
    snapshot = load_snapshot(policy_dir, _tools(args, settings))
    results = asyncio.run(run_dir(snapshot, policy_dir / "tests"))
    failed = [r for r in results if not r.passed]
    for result in failed:
        print(f"FAIL {result.file}: {result.name}")
        for difference in result.differences:
            print(f"    {difference}")
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    return EXIT_INVALID if failed or not results else EXIT_OK


def fmt(args: argparse.Namespace, settings: Settings) -> int:
    """Format `.cedar` files in Cedar's style; `--check` only reports."""
    unformatted = []
    for path in sorted(_policy_dir(args, settings).glob("*.cedar")):
        text = path.read_text(encoding="utf-8")
        try:
            formatted = cedarpy.format_policies(text)
        except ValueError as exc:
            print(f"{path.name}: cannot format: {exc}", file=sys.stderr)
            return EXIT_INVALID
        formatted = formatted.rstrip("\n") + "\n"
        if formatted != text:
            unformatted.append(path.name)
            if not args.check:
                path.write_text(formatted, encoding="utf-8")
    verb = "would reformat" if args.check else "reformatted"
    for name in unformatted:
        print(f"{verb} {name}")
    return EXIT_INVALID if args.check and unformatted else EXIT_OK


def schema(args: argparse.Namespace, settings: Settings) -> int:
    """Print the full schema: the stub plus generated groups, methods and tools."""
    if args.explain:
        return _explain_tool(args, settings)
    stub, _files = read_policy_dir(_policy_dir(args, settings))
    text = full_schema_text(stub, _tools(args, settings))
    cedarpy.Schema.from_str(text)  # fail here, not in a later load, if it does not parse
    print(text, end="")
    return EXIT_OK


def _explain_tool(args: argparse.Namespace, settings: Settings) -> int:
    """How one tool's arguments appear in Cedar, and what policies cannot see, field by field."""
    tool = next((t for t in _tools(args, settings) if t.name == args.explain), None)
    if tool is None:
        print(f"no tool named {args.explain!r} in the registry", file=sys.stderr)
        return EXIT_INVALID
    if tool.validator.problem is not None:
        print(f"{tool.name}: inputSchema cannot be used: {tool.validator.problem}")
    print(f"context.input: {tool.input_type.to_cedar()}")
    if tool.path_fields:
        print(f"context.paths: {', '.join(sorted(tool.path_fields))}")
    if tool.times_type is not None:
        print(f"context.times: {tool.times_type}")
    hidden = explain_hidden(tool.input_type)
    print("\n".join(hidden) if hidden else "every argument is visible to policies")
    return EXIT_OK


async def _decide_once(
    args: argparse.Namespace,
    settings: Settings,
    snapshot: PolicySnapshot,
    claims: dict[str, Any],
    action: Action,
) -> Decision:
    """Decide with the service the server runs: given facts (`--roles`) or the database's."""
    identity = IdentityResolver(
        issuers=settings.issuers, leeway_seconds=settings.token_leeway_seconds
    )
    if args.roles is not None or args.tools:
        roles = frozenset(r for r in (args.roles or "").split(",") if r)
        facts = FixedFacts(StoredPrincipal(roles=roles, attributes=json.loads(args.attributes)))
        service = DecisionService(policies=FixedPolicies(snapshot), facts=facts, identity=identity)
        return (await service.decide(Identity(claims=claims), action)).decision
    engine = create_engine(settings.database_url)
    try:
        database = DatabaseFacts(sessions=session_factory(engine))
        service = DecisionService(
            policies=FixedPolicies(snapshot), facts=database, identity=identity
        )
        return (await service.decide(Identity(claims=claims), action)).decision
    finally:
        await engine.dispose()


def explain(snapshot: PolicySnapshot, decision: Decision) -> dict[str, Any]:
    """A decision with its determining policies located by file and line."""
    return {
        "decision": decision.verdict,
        "code": decision.code,
        "reasons": [
            {"policy": r, "file": snapshot.policies[r].file, "line": snapshot.policies[r].line}
            for r in decision.reasons
            if r in snapshot.policies
        ],
        "errors": list(decision.errors),
        "required_scopes": list(decision.required_scopes),
        "shadow": None
        if decision.shadow is None
        else {
            "decision": decision.shadow.verdict,
            "policies": list(decision.shadow.policies),
        },
        "policy_version": decision.policy_version,
    }


def decide(args: argparse.Namespace, settings: Settings) -> int:
    """One decision from the command line, explained; exit 0 on allow, 1 on deny."""
    snapshot = load_snapshot(_policy_dir(args, settings), _tools(args, settings))
    claims = {"sub": args.principal, **json.loads(args.claims)}
    action = Action(
        method=args.method,
        tool=args.tool,
        arguments=json.loads(args.arguments),
        uri=args.uri,
        prompt=args.prompt,
        gateway=args.gateway,
    )
    decision = asyncio.run(_decide_once(args, settings, snapshot, claims, action))
    print(json.dumps(explain(snapshot, decision), indent=2))
    return EXIT_OK if decision.allowed else EXIT_INVALID


def add_commands(commands: Any) -> None:
    """Register the policy commands on the `mcp-pdp` parser."""

    def with_dir_and_tools(name: str, help_text: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = commands.add_parser(name, help=help_text)
        parser.add_argument("dir", nargs="?", help="policy folder (default: policy_dir)")
        parser.add_argument("--tools", help="a tools/list JSON file instead of the database")
        return parser

    with_dir_and_tools("check", "validate policies against the generated schema").set_defaults(
        run=check
    )
    with_dir_and_tools("test", "run the policy test cases in DIR/tests").set_defaults(run=test)
    schema_parser = with_dir_and_tools("schema", "print the full generated schema")
    schema_parser.add_argument(
        "--explain", metavar="TOOL", help="how TOOL's arguments appear in Cedar, and what is hidden"
    )
    schema_parser.set_defaults(run=schema)
    fmt_parser = commands.add_parser("fmt", help="format .cedar files")
    fmt_parser.add_argument("dir", nargs="?")
    fmt_parser.add_argument("--check", action="store_true", help="report, do not rewrite")
    fmt_parser.set_defaults(run=fmt)

    one = with_dir_and_tools("decide", "one decision, explained")
    one.add_argument("--principal", required=True, help="the subject (sub claim)")
    one.add_argument("--claims", default="{}", help="more claims, as JSON")
    one.add_argument("--roles", help="comma-separated roles instead of the database's")
    one.add_argument("--attributes", default="{}", help="attributes as JSON, with --roles")
    one.add_argument("--method", default="tools/call")
    one.add_argument("--tool")
    one.add_argument("--arguments", default="{}", help="tool arguments, as JSON")
    one.add_argument("--uri")
    one.add_argument("--prompt")
    one.add_argument("--gateway", default="default")
    one.set_defaults(run=decide)
