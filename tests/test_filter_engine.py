"""The tool filter against concrete decisions: it never hides a callable tool."""

from __future__ import annotations

import pytest

from service.engine.errors import DecisionError
from service.engine.evaluate import build_request, evaluate, prepare_entities
from service.engine.filtering import filter_tools
from service.engine.model import Action, Principal, StoredPrincipal
from tests.mcp_fixtures import PEOPLE, demo_snapshot, person, sample_arguments

NOW = 1_800_000_000


def _concrete(name: str, tool: str, arguments: dict) -> bool:
    snapshot = demo_snapshot()
    principal, stored = person(name)
    try:
        request = build_request(snapshot, principal, Action("tools/call", tool, arguments), NOW)
    except DecisionError:
        return False
    return evaluate(snapshot, principal, stored, request, "default").allowed


def _verdicts(name: str) -> dict:
    snapshot = demo_snapshot()
    principal, stored = person(name)
    entities = prepare_entities(snapshot, principal, stored)
    names = sorted(snapshot.tools)
    return {
        v.name: v
        for v in filter_tools(snapshot, principal, entities, names, "default", {"time": NOW})
    }


@pytest.mark.parametrize("name", sorted(PEOPLE))
def test_listed_exactly_when_some_sampled_call_is_allowed(name: str) -> None:
    snapshot = demo_snapshot()
    verdicts = _verdicts(name)
    assert len(verdicts) == 50
    for tool_name, tool in sorted(snapshot.tools.items()):
        allowed = [a for a in sample_arguments(tool.input_schema) if _concrete(name, tool_name, a)]
        verdict = verdicts[tool_name]
        # Sound: a tool some call may use is never hidden. On the demo policies
        # the samples also find an allowed call for every listed tool.
        assert verdict.listed == bool(allowed), (name, tool_name, verdict)
        if not verdict.listed:
            assert verdict.code is not None or verdict.reasons, verdict


def test_argument_gated_tools_are_listed_and_forbids_withhold() -> None:
    bob = _verdicts("bob-write")
    assert bob["payments___refund"].listed  # only for amount < 500
    assert not _concrete("bob-write", "payments___refund", {"orderId": "A", "amount": 600})
    alice = _verdicts("alice")
    assert alice["files___read_file"].listed  # only inside /data/reports
    bob_read = _verdicts("bob-read")["payments___refund"]
    assert (bob_read.listed, bob_read.reasons) == (False, ("guardrails.cedar#writes-need-scope",))
    salary = _verdicts("dave")["hr___get_salary"]
    assert (salary.listed, salary.reasons) == (False, ("guardrails.cedar#pii-only-for-hr",))
    assert _verdicts("nobody")["docs___search"].code == "no_policy"


def test_unknown_tools_are_withheld() -> None:
    snapshot = demo_snapshot()
    principal, stored = person("dave")
    entities = prepare_entities(snapshot, principal, stored)
    verdicts = filter_tools(
        snapshot, principal, entities, ["nope", "docs___search"], "d", {"time": 1}
    )
    assert [(v.name, v.listed, v.code) for v in verdicts] == [
        ("nope", False, "unknown_tool"),
        ("docs___search", True, None),
    ]


@pytest.mark.parametrize("principal_id", ['we"ird', "back\\slash", "new\nline\ttab", "é|x"])
def test_unusual_principal_ids_are_evaluated(principal_id: str) -> None:
    snapshot = demo_snapshot()
    principal = Principal(principal_id)
    stored = StoredPrincipal(frozenset({"admin"}), {}, {"admin": frozenset()})
    entities = prepare_entities(snapshot, principal, stored)
    verdicts = filter_tools(snapshot, principal, entities, ["docs___search"], 'g"w', {"time": 1})
    assert [(v.listed, v.code) for v in verdicts] == [(True, None)]
