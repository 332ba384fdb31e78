"""Cache keys cover the whole request; clock-reading policies are never cached."""

from __future__ import annotations

import json
from dataclasses import fields, replace
from typing import Any

import cedarpy
import pytest

from service.cache.digest import Uncacheable, request_digest, shared_key
from service.cache.local import Entry, LocalCache
from service.engine.model import Action, Decision, Principal, TokenInfo
from service.engine.time_reads import reads_request_time
from service.store.generations import Generations

PRINCIPAL = Principal(
    id="alice",
    attributes={"email": "a@example.com", "department": "finance"},
    tags={"tenant": "acme", "sub": "alice"},
    roles=frozenset({"analyst", "employee"}),
    token=TokenInfo(
        scopes=frozenset({"tools:read", "tools:write"}),
        client_id="agent",
        issuer="https://idp",
        audience="mcp",
        expires_at=2_000_000_000,
    ),
)
ACTION = Action(
    method="tools/call",
    tool="docs___search",
    arguments={"query": "q", "limit": 1, "filters": {"a": [1, 2]}},
    uri="file:///x",
    prompt="p",
    gateway="default",
    source_ip="203.0.113.7",
    session_id="s1",
)


def _changed(value: Any) -> Any:
    """A different value of the same kind."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str):
        return value + "x"
    if isinstance(value, frozenset):
        return value | {"extra"}
    if isinstance(value, dict):
        return {**value, "extra": "x"}
    if value is None:
        return "x"
    raise AssertionError(f"no variant for {value!r}")


def test_every_field_of_principal_token_and_action_changes_the_key() -> None:
    base = request_digest(PRINCIPAL, ACTION)
    seen = {base}
    for field in fields(Principal):
        if field.name == "token":
            continue
        variant = replace(PRINCIPAL, **{field.name: _changed(getattr(PRINCIPAL, field.name))})
        seen.add(request_digest(variant, ACTION))
    for field in fields(TokenInfo):
        token = replace(
            PRINCIPAL.token, **{field.name: _changed(getattr(PRINCIPAL.token, field.name))}
        )
        seen.add(request_digest(replace(PRINCIPAL, token=token), ACTION))
    for field in fields(Action):
        variant_action = replace(ACTION, **{field.name: _changed(getattr(ACTION, field.name))})
        seen.add(request_digest(PRINCIPAL, variant_action))
    expected = 1 + (len(fields(Principal)) - 1) + len(fields(TokenInfo)) + len(fields(Action))
    assert len(seen) == expected  # each variant has its own key


@pytest.mark.parametrize(
    "arguments",
    [
        {"query": "q", "limit": True},  # true is not 1
        {"query": "q", "limit": 1.0},  # 1.0 is not 1
        {"query": "q", "limit": "1"},
        {"query": "q", "limit": None},
        {"query": "q", "limit": [1]},
        {"query": "q", "filters": {"a": [2, 1]}},  # list order matters
        {"query": "q"},
    ],
)
def test_argument_values_are_spelled_exactly(arguments: dict[str, Any]) -> None:
    one = replace(ACTION, arguments={"query": "q", "limit": 1})
    assert request_digest(PRINCIPAL, one) != request_digest(
        PRINCIPAL, replace(ACTION, arguments=arguments)
    )


def test_order_of_mappings_and_sets_does_not_matter() -> None:
    reordered = replace(
        PRINCIPAL,
        attributes=dict(reversed(list(PRINCIPAL.attributes.items()))),
        roles=frozenset(reversed(sorted(PRINCIPAL.roles))),
    )
    action = replace(ACTION, arguments=dict(reversed(list((ACTION.arguments or {}).items()))))
    assert request_digest(reordered, action) == request_digest(PRINCIPAL, ACTION)


def test_no_confusion_between_principal_and_action_fields() -> None:
    # The same strings moved between fields must not produce the same document.
    a = replace(ACTION, source_ip="x", session_id=None)
    b = replace(ACTION, source_ip=None, session_id="x")
    assert request_digest(PRINCIPAL, a) != request_digest(PRINCIPAL, b)


def test_a_value_without_canonical_form_is_uncacheable() -> None:
    with pytest.raises(Uncacheable):
        request_digest(PRINCIPAL, replace(ACTION, arguments={"x": object()}))
    with pytest.raises(Uncacheable):
        request_digest(PRINCIPAL, replace(ACTION, arguments={"x": {1: "int key"}}))


@pytest.mark.parametrize(
    "value",
    [float("nan"), float("inf"), 2**64, "lone \ud800 surrogate"],
    ids=["nan", "infinity", "past-64-bits", "surrogate"],
)
def test_values_json_cannot_spell_exactly_are_uncacheable(value: object) -> None:
    # NaN would hash as null, so a NaN argument could be answered with a null's decision.
    with pytest.raises(Uncacheable):
        request_digest(PRINCIPAL, replace(ACTION, arguments={"x": value}))


def test_a_subclass_of_a_plain_type_is_keyed_as_its_plain_value() -> None:
    class Name(str):
        pass

    plain = replace(ACTION, arguments={"x": "v", "n": 1})
    subclassed = replace(ACTION, arguments={"x": Name("v"), "n": 1})
    flag = replace(ACTION, arguments={"x": "v", "n": True})
    assert request_digest(PRINCIPAL, subclassed) == request_digest(PRINCIPAL, plain)
    assert request_digest(PRINCIPAL, flag) != request_digest(PRINCIPAL, plain)


def test_shared_key_names_version_generations_and_digest() -> None:
    key = shared_key("sha256:abc", Generations("g1", "p1"), "d" * 64)
    assert key == f"mcp-pdp:decision:v2:sha256:abc:g1:p1:{'d' * 64}"


def _conditions(condition: str) -> Any:
    text = f"permit (principal, action, resource) when {{ {condition} }};"
    document = json.loads(cedarpy.policies_to_json_str(text))
    return next(iter(document["staticPolicies"].values()))["conditions"]


@pytest.mark.parametrize(
    ("condition", "reads"),
    [
        ("context.request.time > 5", True),
        ('context["request"]["time"] < 9', True),
        ("context.request == {time: 1}", True),
        ("context == {}", True),
        ("[context.request].contains(context.request)", True),
        ("(if true then context.request else context.request) has time", True),
        ("context.token.expires_at > 1", False),
        ("context has request", False),
        ("context.request has time", False),
        ('context.request.uri == "x"', False),
        ("context.input.time == 3", False),
        ('context.token.scopes.contains("time")', False),
    ],
)
def test_time_reads_are_found_conservatively(condition: str, reads: bool) -> None:
    assert reads_request_time(_conditions(condition)) is reads


def test_local_cache_is_bounded_lru_and_expires() -> None:
    cache = LocalCache(2)
    gens = Generations("g", "p")
    entry = Entry(Decision(True, "v"), gens, expires_at=100.0)
    cache.put("a", entry)
    cache.put("b", entry)
    assert cache.get("a", now=50.0) is entry  # "a" is now the most recent
    cache.put("c", entry)
    assert cache.get("b", now=50.0) is None  # least recently used went first
    assert cache.get("a", now=50.0) is entry
    assert cache.get("a", now=100.0) is None  # expired at exactly expires_at
    assert len(cache) == 1
