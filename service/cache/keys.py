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
from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from typing import Any

from service.engine.model import Action, Principal
from service.store.generations import Generations

PREFIX = "mcp-pdp:decision:v1"  # bump the v when the key or value layout changes


class Uncacheable(ValueError):
    """The request holds a value with no canonical form: decide it without the cache."""


def canonical(value: Any) -> Any:
    """`value` as plain JSON types with one spelling: sets sorted, mappings by key."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: canonical(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Mapping):
        if not all(isinstance(k, str) for k in value):
            raise Uncacheable("a mapping with a key that is not a string")
        return {k: canonical(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        items = [canonical(v) for v in value]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise Uncacheable(f"a value of type {type(value).__name__}")


def request_digest(principal: Principal, action: Action) -> str:
    """SHA-256 of the canonical principal and action (hex)."""
    document = {"principal": canonical(principal), "action": canonical(action)}
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def local_key(policy_version: str, digest: str) -> str:
    """The in-process key; the entry carries its generations and is checked against them."""
    return f"{PREFIX}:{policy_version}:{digest}"


def shared_key(policy_version: str, generations: Generations, digest: str) -> str:
    """The Redis key: an entry of older generations is simply never asked for again."""
    return f"{PREFIX}:{policy_version}:{generations.store}:{generations.principal}:{digest}"
