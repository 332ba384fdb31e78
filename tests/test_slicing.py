"""Per-action policy slices decide exactly as the whole policy set: proved on random requests.

Random policy sets mix every action scope (any, `==` a tool or method, `in` a
group, `in` a list), conditions that look at `action`, conditions that error
(overflows), shadow policies and `@required_scope` forbids.
Random requests (principals, roles, attributes, tags, scopes, tools, methods,
arguments) go through the sliced snapshot and the same snapshot with slicing
off; every field of every decision must match, as must every filter verdict.
"""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from service.engine import filtering
from service.engine.entities import principal_ancestors
from service.engine.errors import DecisionError
from service.engine.evaluate import build_request, evaluate, evaluate_many, prepare_entities
from service.engine.filtering import filter_tools
from service.engine.model import Action, Principal, StoredPrincipal, TokenInfo
from service.engine.policies import PolicyFile, PolicySnapshot, compile_policies
from service.engine.tools import tools_from_list_result

STUB = (Path(__file__).resolve().parent.parent / "policies" / "schema.cedarschema").read_text()
ROLES = ["r0", "r1", "r2", "r3", "r4"]
SCOPES = ["read", "write", "admin"]
TAGS = ["finance", "ops"]
METHODS = ["tools/list", "resources/list", "prompts/list", "ping", "initialize"]
GROUPS = ["CallTool", "ReadOnlyTools", "DestructiveTools", "Discovery", *TAGS]
SCHEMA = {
    "type": "object",
    "properties": {"n": {"type": "integer"}, "s": {"type": "string"}},
    "required": ["n"],
}


def _tools(rng: random.Random) -> list[dict[str, object]]:
    tools = []
    for i in range(12):
        tool: dict[str, object] = {
            "name": f"svc___t{i}",
            "inputSchema": SCHEMA,
            "annotations": {"readOnlyHint": rng.random() < 0.5},
        }
        tags = [t for t in TAGS if rng.random() < 0.3]
        if tags:
            tool["tags"] = tags
        tools.append(tool)
    return tools


def _action_id(name: str) -> str:
    return f'Mcp::Action::"{name}"'


def _policy(
    rng: random.Random, index: int, tool_names: list[str], action_conditions: bool = True
) -> str:
    effect = rng.choice(["permit", "permit", "forbid"])
    principal = rng.choice(
        [
            "principal",
            f'principal in Mcp::Role::"{rng.choice(ROLES)}"',
            f'principal == Mcp::User::"user{rng.randint(0, 5)}"',
            "principal is Mcp::User",
            f'principal is Mcp::User in Mcp::Role::"{rng.choice(ROLES)}"',
        ]
    )
    kind = rng.choice(["all", "tool", "tool", "method", "group", "list"])
    tool = rng.choice(tool_names)
    action = {
        "all": "action",
        "tool": f"action == {_action_id(tool)}",
        "method": f"action == {_action_id(rng.choice(METHODS))}",
        "group": f"action in {_action_id(rng.choice(GROUPS))}",
        "list": f"action in [{_action_id(tool)}, {_action_id(rng.choice(GROUPS))}]",
    }[kind]
    conditions = [
        f'context.token.scopes.contains("{rng.choice(SCOPES)}")',
        f'principal has department && principal.department == "d{rng.randint(0, 2)}"',
        f'principal.hasTag("team") && principal.getTag("team") == "t{rng.randint(0, 1)}"',
        "context.token.expires_at + 9223372036854775000 > 0",  # overflows for a late expiry
    ]
    if action_conditions:  # a condition on `action` keeps its tools from sharing a verdict
        conditions += [
            f"action == {_action_id(rng.choice(tool_names))}",
            f"action in {_action_id(rng.choice(GROUPS))}",
        ]
    if kind == "tool":
        conditions += [
            f"context.input.n > {rng.randint(-5, 5)}",
            "context.input.n * 4611686018427387904 > 0",  # overflows for |n| > 1
        ]
    chosen = rng.sample(conditions, rng.randint(0, 2))
    body = "".join(f" {rng.choice(['when', 'unless'])} {{ {c} }}" for c in chosen)
    annotations = f'@id("p{index}")\n'
    if rng.random() < 0.1:
        annotations += '@mode("shadow")\n'
    if effect == "forbid" and rng.random() < 0.3:
        annotations += f'@required_scope("{rng.choice(SCOPES)}")\n'
    return f"{annotations}{effect} ({principal}, {action}, resource){body};\n"


def _world(seed: int, action_conditions: bool = True) -> tuple[PolicySnapshot, list[str]]:
    rng = random.Random(seed)
    tools = tools_from_list_result({"tools": _tools(rng)})
    names = [t.name for t in tools]
    count = rng.randint(20, 60)
    text = "".join(_policy(rng, i, names, action_conditions) for i in range(count))
    return compile_policies(STUB, [PolicyFile("random.cedar", text)], tools), names


def _principal(rng: random.Random, index: int) -> tuple[Principal, StoredPrincipal]:
    tags = {"team": f"t{rng.randint(0, 1)}"} if rng.random() < 0.6 else {}
    attributes = {"department": f"d{rng.randint(0, 2)}"} if rng.random() < 0.7 else {}
    scopes = frozenset(s for s in SCOPES if rng.random() < 0.5)
    principal = Principal(
        f"user{index}",
        attributes,
        tags,
        frozenset(rng.sample(ROLES, rng.randint(0, 2))),
        TokenInfo(scopes=scopes, expires_at=rng.choice([0, 5000])),
    )
    parents = {"r1": frozenset({"r0"})} if rng.random() < 0.5 else {}
    return principal, StoredPrincipal(frozenset(rng.sample(ROLES, rng.randint(0, 1))), {}, parents)


def _action(rng: random.Random, names: list[str]) -> Action:
    if rng.random() < 0.25:
        return Action(method=rng.choice(METHODS))
    arguments = {"n": rng.choice([-3, 0, 1, 2, 7, 2**40])}
    return Action(method="tools/call", tool=rng.choice(names), arguments=arguments)


@pytest.mark.parametrize("seed", range(12))
def test_sliced_and_whole_sets_decide_alike(seed: int) -> None:
    sliced, names = _world(seed)
    assert sliced.slices is not None
    whole = replace(sliced, slices=None, shadow_slices=None)
    rng = random.Random(1000 + seed)
    compared = 0
    for index in range(40):
        principal, stored = _principal(rng, index)
        entities = prepare_entities(sliced, principal, stored)
        requests = []
        for _ in range(rng.randint(1, 6)):
            try:
                requests.append(
                    (build_request(sliced, principal, _action(rng, names), 0), "default")
                )
            except DecisionError:
                continue
        if requests:
            expected = evaluate_many(whole, principal, entities, requests)
            assert evaluate_many(sliced, principal, entities, requests) == expected
            compared += len(expected)
        facts = {"time": 0}
        assert filter_tools(sliced, principal, entities, names, "default", facts) == filter_tools(
            whole, principal, entities, names, "default", facts
        )
    assert compared > 60


def _shared_against_alone(
    snapshot: PolicySnapshot, names: list[str], seed: int, monkeypatch: pytest.MonkeyPatch
) -> tuple[dict[str, int], int]:
    """Filter for 30 random principals with shared classes and tool by tool; both must agree.

    Returns the partial evaluations each way and how many verdicts had reasons.
    """
    calls = {"alone": 0, "shared": 0}
    mode = "alone"
    partial = filtering.cedarpy.is_authorized_partial

    def counted(*args: Any) -> Any:
        calls[mode] += 1
        return partial(*args)

    monkeypatch.setattr(filtering.cedarpy, "is_authorized_partial", counted)
    rng = random.Random(seed)
    with_reasons = 0
    for index in range(30):
        principal, stored = _principal(rng, index)
        entities = prepare_entities(snapshot, principal, stored)
        facts = {"time": 0}
        mode = "alone"
        alone = filter_tools(snapshot, principal, entities, names, "default", facts, share=False)
        mode = "shared"
        ancestors = principal_ancestors(principal, stored)
        shared = filter_tools(
            snapshot, principal, entities, names, "default", facts, ancestors=ancestors
        )
        assert shared == alone  # reasons name each tool's own policies
        with_reasons += sum(1 for v in alone if v.reasons)
    return calls, with_reasons


@pytest.mark.parametrize("seed", range(12))
def test_filter_classes_by_principal_scope_list_alike(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tools share a verdict when the same policies can apply to them; policies whose
    # principal scope excludes the principal are left out of that comparison.
    snapshot, names = _world(seed, action_conditions=False)
    calls, _ = _shared_against_alone(snapshot, names, 2000 + seed, monkeypatch)
    assert calls["shared"] < calls["alone"]  # the comparison did share verdicts


# Per-tool policies written from a few templates: equal shapes on many tools.
TEMPLATES = [
    ("permit", 'principal in Mcp::Role::"r0"', ""),
    ("permit", 'principal in Mcp::Role::"r1"', 'when { context.token.scopes.contains("read") }'),
    ("forbid", "principal", 'when { context.token.scopes.contains("write") }'),
    ("forbid", 'principal in Mcp::Role::"r2"', ""),
    ("permit", "principal", "when { context.input.n > 0 }"),
    ("permit", "principal is Mcp::User", "unless { principal has department }"),
    ("forbid", 'principal == Mcp::User::"user3"', ""),
]


def _templated_world(seed: int) -> tuple[PolicySnapshot, list[str]]:
    rng = random.Random(seed)
    tools = tools_from_list_result({"tools": _tools(rng)})
    names = [t.name for t in tools]
    text = '@id("suspended")\nforbid (principal, action, resource) when { principal has department && principal.department == "d1" };\n'
    index = 0
    for name in names:
        for effect, principal, condition in rng.sample(TEMPLATES, rng.randint(1, 3)):
            text += (
                f'@id("p{index}")\n{effect} ({principal}, action == {_action_id(name)}, resource)'
                f" {condition};\n"
            )
            index += 1
    return compile_policies(STUB, [PolicyFile("tpl.cedar", text)], tools), names


@pytest.mark.parametrize("seed", range(8))
def test_tools_of_equal_policy_shapes_share_verdicts_exactly(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    snapshot, names = _templated_world(seed)
    calls, with_reasons = _shared_against_alone(snapshot, names, 3000 + seed, monkeypatch)
    assert with_reasons > 0  # forbids named, so renaming reasons was exercised
    assert calls["shared"] < calls["alone"] * 0.8


@pytest.mark.parametrize("seed", range(12))
def test_lean_entities_decide_as_the_schema_parse(seed: int) -> None:
    # One decision parses its action's chain without the schema (engine/action_entities.py).
    lean, names = _world(seed)
    assert lean.action_chains is not None
    full = replace(lean, action_chains=None)
    rng = random.Random(4000 + seed)
    compared = 0
    for index in range(40):
        principal, stored = _principal(rng, index)
        for _ in range(4):
            try:
                request = build_request(lean, principal, _action(rng, names), 0)
            except DecisionError:
                continue
            expected = evaluate(full, principal, stored, request, "default")
            assert evaluate(lean, principal, stored, request, "default") == expected
            compared += 1
    assert compared > 100


def test_lean_entities_only_where_exact() -> None:
    tools = tools_from_list_result({"tools": [{"name": "a___x", "inputSchema": SCHEMA}]})
    plain = '@id("p")\npermit (principal, action in Mcp::Action::"CallTool", resource);\n'
    literal = (
        '@id("q")\npermit (principal, action, resource) when '
        '{ Mcp::Action::"a___x" in Mcp::Action::"CallTool" };\n'
    )
    assert compile_policies(STUB, [PolicyFile("p.cedar", plain)], tools).action_chains
    snapshot = compile_policies(STUB, [PolicyFile("q.cedar", plain + literal)], tools)
    assert snapshot.action_chains is None  # the literal's chain would be missing
    record = STUB.replace("employee?: Bool,", "employee?: Bool,\n    address?: { city: String },")
    assert record != STUB
    snapshot = compile_policies(record, [PolicyFile("p.cedar", plain)], tools)
    assert snapshot.action_chains is None  # Cedar reads a record against the schema


def test_random_requests_reach_every_outcome() -> None:
    """Across the seeds the comparison sees allows, denies, errors and shadow effects."""
    errors = shadows = allowed = denied = 0
    for seed in range(12):
        snapshot, names = _world(seed)
        rng = random.Random(1000 + seed)
        for index in range(40):
            principal, stored = _principal(rng, index)
            entities = prepare_entities(snapshot, principal, stored)
            try:
                request = build_request(snapshot, principal, _action(rng, names), 0)
            except DecisionError:
                continue
            (decision,) = evaluate_many(snapshot, principal, entities, [(request, "default")])
            errors += bool(decision.errors)
            shadows += decision.shadow is not None
            allowed += decision.allowed
            denied += not decision.allowed
    assert errors > 0 and shadows > 0 and allowed > 0 and denied > 0


def test_slice_keeps_only_policies_that_can_apply() -> None:
    tools = tools_from_list_result(
        {"tools": [{"name": n, "inputSchema": SCHEMA} for n in ("a___x", "a___y")]}
    )
    text = (
        '@id("any")\npermit (principal, action, resource);\n'
        '@id("x")\npermit (principal, action == Mcp::Action::"a___x", resource);\n'
        '@id("y")\npermit (principal, action == Mcp::Action::"a___y", resource);\n'
        '@id("calls")\nforbid (principal, action in Mcp::Action::"CallTool", resource)'
        " when { principal has department };\n"
        '@id("looks")\npermit (principal, action == Mcp::Action::"tools/list", resource)'
        ' when { action == Mcp::Action::"a___y" };\n'
    )
    snapshot = compile_policies(STUB, [PolicyFile("s.cedar", text)], tools)
    assert snapshot.slices is not None
    prefix = "s.cedar#"
    members = {m.removeprefix(prefix) for m in snapshot.slices.members("a___x")}
    assert members == {"any", "x", "calls", "looks"}
    members = {m.removeprefix(prefix) for m in snapshot.slices.members("tools/list")}
    assert members == {"any", "looks"}
    # Tools with the same applicable policies share one parsed set.
    assert snapshot.policies_for("a___x") is snapshot.policies_for("a___x")
