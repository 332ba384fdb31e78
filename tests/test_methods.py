"""Every MCP method maps to its action, with the documented demo defaults."""

from __future__ import annotations

import pytest

from service.engine.errors import DecisionError, UnknownMethod
from service.engine.evaluate import build_request, evaluate
from service.engine.methods import (
    DISCOVERY,
    METHOD_GROUPS,
    NOTIFICATIONS,
    RESOURCES,
    SERVER_REQUESTS,
    TASKS,
)
from service.engine.model import Action, Decision, Subscriptions
from service.engine.schema import generated_actions
from tests.mcp_fixtures import demo_snapshot, person

# MCP 2025-06-18 and 2025-11-25: every request and notification, both directions.
SPEC_METHODS = {
    "initialize", "ping", "tools/list", "tools/call", "resources/list",
    "resources/templates/list", "resources/read", "resources/subscribe",
    "resources/unsubscribe", "prompts/list", "prompts/get", "completion/complete",
    "logging/setLevel", "tasks/get", "tasks/list", "tasks/result", "tasks/cancel",
    "sampling/createMessage", "roots/list", "elicitation/create",
    "notifications/initialized", "notifications/cancelled", "notifications/progress",
    "notifications/roots/list_changed", "notifications/tasks/status",
    "notifications/message", "notifications/resources/updated",
    "notifications/resources/list_changed", "notifications/tools/list_changed",
    "notifications/prompts/list_changed", "notifications/elicitation/complete",
}  # fmt: skip
# MCP 2026-07-28 adds these (and the tasks extension's); it removes initialize,
# ping and others, which older clients still send.
SPEC_METHODS_2026 = {
    "server/discover", "subscriptions/listen", "notifications/subscriptions/acknowledged",
    "tasks/update", "notifications/tasks",
}  # fmt: skip
LISTEN = Subscriptions(tools_list_changed=True)

# method → (extra request fields, expected decision for an identified user, demo policies)
EXPECTED: dict[str, tuple[dict[str, str], str]] = {
    "initialize": ({}, "allow"),
    "ping": ({}, "allow"),
    "tools/list": ({}, "allow"),
    "resources/list": ({}, "allow"),
    "resources/templates/list": ({}, "allow"),
    "prompts/list": ({}, "allow"),
    "tasks/list": ({}, "allow"),
    "server/discover": ({}, "allow"),
    "subscriptions/listen": ({"subscriptions": LISTEN}, "allow"),
    "resources/read": ({"uri": "docs://public/handbook.md"}, "allow"),
    "resources/subscribe": ({"uri": "docs://public/handbook.md"}, "allow"),
    "resources/unsubscribe": ({"uri": "docs://public/handbook.md"}, "allow"),
    "prompts/get": ({"prompt": "summarize"}, "allow"),
    "completion/complete": ({"prompt": "summarize"}, "allow"),
    "logging/setLevel": ({}, "no_policy"),
    "tasks/get": ({}, "no_policy"),
    "tasks/result": ({}, "no_policy"),
    "tasks/cancel": ({}, "no_policy"),
    "tasks/update": ({}, "no_policy"),
    "sampling/createMessage": ({}, "no_policy"),
    "roots/list": ({}, "no_policy"),
    "elicitation/create": ({}, "no_policy"),
    **{
        m: ({}, "allow") for m in SPEC_METHODS | SPEC_METHODS_2026 if m.startswith("notifications/")
    },
}


def test_the_table_covers_every_spec_revision() -> None:
    assert set(METHOD_GROUPS) | {"tools/call"} == SPEC_METHODS | SPEC_METHODS_2026
    assert set(EXPECTED) == set(METHOD_GROUPS)


@pytest.mark.parametrize("method", sorted(METHOD_GROUPS))
def test_each_method_maps_to_its_action(method: str) -> None:
    snapshot = demo_snapshot()
    principal, stored = person("nobody")
    fields, expected = EXPECTED[method]
    request = build_request(snapshot, principal, Action(method, **fields), 1)
    assert request.action_id == method
    assert ("uri" in request.context) == (RESOURCES in METHOD_GROUPS[method])
    decision = evaluate(snapshot, principal, stored, request, "default")
    assert ("allow" if decision.allowed else decision.code) == expected, decision


def test_groups() -> None:
    assert {m for m, g in METHOD_GROUPS.items() if NOTIFICATIONS in g} == {
        m for m in SPEC_METHODS | SPEC_METHODS_2026 if m.startswith("notifications/")
    }
    assert {m for m, g in METHOD_GROUPS.items() if DISCOVERY in g} == {
        "tools/list", "resources/list", "resources/templates/list", "prompts/list", "tasks/list",
        "server/discover",
    }  # fmt: skip
    assert {m for m, g in METHOD_GROUPS.items() if TASKS in g} == {
        "tasks/get", "tasks/list", "tasks/result", "tasks/cancel", "tasks/update"
    }  # fmt: skip
    assert {m for m, g in METHOD_GROUPS.items() if SERVER_REQUESTS in g} == {
        "sampling/createMessage", "roots/list", "elicitation/create"
    }  # fmt: skip
    text = generated_actions([])
    assert 'action "notifications/tasks/status" in [Action::"Notifications"]' in text


@pytest.mark.parametrize("method", ["tools/teleport", "notifications/unknown", "", "TOOLS/LIST"])
def test_unknown_methods_are_denied(method: str) -> None:
    principal, _ = person("dave")
    with pytest.raises(UnknownMethod):
        build_request(demo_snapshot(), principal, Action(method), 1)


@pytest.mark.parametrize(
    ("method", "code"),
    [("resources/read", "invalid_arguments"), ("prompts/get", "invalid_arguments"),
     ("resources/subscribe", "invalid_arguments"), ("tools/call", "unknown_tool"),
     ("subscriptions/listen", "invalid_arguments")],
)  # fmt: skip
def test_methods_without_their_target_cannot_be_decided(method: str, code: str) -> None:
    principal, _ = person("dave")
    with pytest.raises(DecisionError) as raised:
        build_request(demo_snapshot(), principal, Action(method), 1)
    assert raised.value.code == code


def test_prompt_and_uri_reach_the_policies() -> None:
    snapshot = demo_snapshot()
    bob, stored = person("bob-read")
    alice, alice_stored = person("alice")

    def decide(who, stored, **fields) -> Decision:  # type: ignore[no-untyped-def]
        request = build_request(snapshot, who, Action(**fields), 1)
        return evaluate(snapshot, who, stored, request, "default")

    assert decide(bob, stored, method="prompts/get", prompt="support-refund").allowed
    assert not decide(alice, alice_stored, method="prompts/get", prompt="support-refund").allowed
    report = "file:///data/reports/q1.csv"
    assert decide(alice, alice_stored, method="resources/read", uri=report).allowed
    assert not decide(bob, stored, method="resources/read", uri=report).allowed


@pytest.mark.parametrize("method", sorted(SPEC_METHODS_2026))
def test_methods_of_2026_are_known(method: str) -> None:
    principal, _ = person("nobody")
    fields = {"subscriptions": LISTEN} if method == "subscriptions/listen" else {}
    request = build_request(demo_snapshot(), principal, Action(method, **fields), 1)
    assert request.action_id == method
