"""Cache keys: the whole request, hashed canonically. No partial keys.

A key names everything a decision depends on: the policy version (policies, schema
and tool registry), the data generations (roles, nesting, assignments,
attributes) and a SHA-256 of the canonical request, built from *every* field of
the principal (id, mapped attributes, tags, claim roles, `context.token`) and of
the action (method, tool, arguments, uri, prompt, gateway, request facts). The
fields are walked generically, so a field added to those types later is in the
key without anyone remembering to add it. The request time is the one input left
out: a snapshot whose policies may read it is never cached (`reads_time`).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from typing import Any

import orjson

from service.engine.model import Action, Principal
from service.store.generations import Generations

PREFIX = "mcp-pdp:decision:v2"  # bump the v when the key or value layout changes


class Uncacheable(ValueError):
    """The request holds a value with no canonical form: decide it without the cache."""


_PLAIN = frozenset({str, int, float, bool, type(None)})


_FIELD_NAMES: dict[type, tuple[str, ...] | None] = {}


def _field_names(kind: type) -> tuple[str, ...] | None:
    """The dataclass fields of `kind`, or None if it is no dataclass (cached per class)."""
    if kind not in _FIELD_NAMES:
        _FIELD_NAMES[kind] = tuple(f.name for f in fields(kind)) if is_dataclass(kind) else None
    return _FIELD_NAMES[kind]


def canonical(value: Any) -> Any:
    """`value` as plain JSON types with one spelling: sets sorted, mappings by key."""
    kind = type(value)
    # Exact types first: this runs for every field of every cacheable decision.
    if kind in _PLAIN:
        if kind is float and not math.isfinite(value):
            raise Uncacheable("NaN or infinity")  # orjson would write null for them
        return value
    if kind is dict:
        return _mapping(value)
    if kind is list or kind is tuple:
        return [canonical(v) for v in value]
    names = _field_names(kind)
    if names is not None:
        return {name: canonical(getattr(value, name)) for name in names}
    if isinstance(value, Mapping):
        return _mapping(value)
    if isinstance(value, set | frozenset):
        items = [canonical(v) for v in value]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    for plain in (bool, int, float, str):  # a subclass (an enum, say): its plain value
        if isinstance(value, plain):
            return canonical(plain(value))
    raise Uncacheable(f"a value of type {kind.__name__}")


def _mapping(value: Mapping[Any, Any]) -> dict[str, Any]:
    if not all(isinstance(k, str) for k in value):
        raise Uncacheable("a mapping with a key that is not a string")
    return {k: canonical(v) for k, v in value.items()}


def request_digest(principal: Principal, action: Action) -> str:
    """SHA-256 of the canonical principal and action (hex)."""
    document = {"principal": canonical(principal), "action": canonical(action)}
    try:
        text = orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError as exc:  # integers past 64 bits, lone surrogates
        raise Uncacheable(str(exc)) from exc
    return hashlib.sha256(text).hexdigest()


def local_key(policy_version: str, digest: str) -> str:
    """The in-process key; the entry carries its generations and is checked against them."""
    return f"{PREFIX}:{policy_version}:{digest}"


def shared_key(policy_version: str, generations: Generations, digest: str) -> str:
    """The Redis key: an entry of older generations is simply never asked for again."""
    return f"{PREFIX}:{policy_version}:{generations.store}:{generations.principal}:{digest}"
