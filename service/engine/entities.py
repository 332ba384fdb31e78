"""Cedar entities for one decision: the principal and the roles it sits in."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from service.engine.errors import EvaluationError
from service.engine.methods import NAMESPACE
from service.engine.model import Principal, StoredPrincipal

USER = f"{NAMESPACE}::User"
ROLE = f"{NAMESPACE}::Role"
_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1


def _fits(cedar_type: str, value: Any) -> bool:
    if cedar_type == "String":
        return isinstance(value, str)
    if cedar_type == "Bool":
        return isinstance(value, bool)
    if cedar_type == "Long":
        return (
            isinstance(value, int)
            and not isinstance(value, bool)
            and (_LONG_MIN <= value <= _LONG_MAX)
        )
    if cedar_type == "Set<String>":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    return True  # other shapes are checked by Cedar against the schema


def principal_attributes(
    principal: Principal, stored: StoredPrincipal, declared: Mapping[str, str]
) -> dict[str, Any]:
    """Mapped claims overlaid by DB attributes, kept to what the schema declares."""
    merged = {**principal.attributes, **stored.attributes}  # the database wins
    attributes: dict[str, Any] = {}
    for name, value in merged.items():
        if name not in declared or value is None:
            continue  # undeclared attributes cannot appear in a valid policy
        if not _fits(declared[name], value):
            raise EvaluationError(f"principal attribute {name!r} is not a {declared[name]}")
        attributes[name] = value
    return attributes


def role_closure(direct: frozenset[str], parents: Mapping[str, frozenset[str]]) -> set[str]:
    """Every role reachable from `direct` through role nesting."""
    seen: set[str] = set()
    pending = list(direct)
    while pending:
        role = pending.pop()
        if role not in seen:
            seen.add(role)
            pending.extend(parents.get(role, ()))
    return seen


def principal_ancestors(
    principal: Principal, stored: StoredPrincipal
) -> frozenset[tuple[str, str]]:
    """Every entity the principal is `in`, as (type, id): its roles, transitively."""
    direct = stored.roles | principal.roles
    return frozenset((ROLE, role) for role in role_closure(direct, stored.role_parents))


def build_entities(
    principal: Principal, stored: StoredPrincipal, declared: Mapping[str, str]
) -> list[dict[str, Any]]:
    """The entity list Cedar evaluates against."""
    direct = stored.roles | principal.roles
    user = {
        "uid": {"type": USER, "id": principal.id},
        "attrs": principal_attributes(principal, stored, declared),
        "parents": [{"type": ROLE, "id": r} for r in sorted(direct)],
        "tags": dict(principal.tags),
    }
    roles = [
        {
            "uid": {"type": ROLE, "id": role},
            "attrs": {},
            "parents": [{"type": ROLE, "id": p} for p in sorted(stored.role_parents.get(role, ()))],
        }
        for role in sorted(role_closure(direct, stored.role_parents))
    ]
    return [user, *roles]
