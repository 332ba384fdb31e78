"""Does a JSON value fit a declared `User` attribute's Cedar type? (Admin writes check this.)"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1
MAX_STRING = 4096
MAX_SET = 256


SCALARS = frozenset({"String", "Bool", "Long"})


def _scalar(cedar_type: str, value: Any) -> bool:
    if cedar_type == "String":
        return isinstance(value, str) and len(value) <= MAX_STRING
    if cedar_type == "Bool":
        return isinstance(value, bool)
    return isinstance(value, int) and not isinstance(value, bool) and LONG_MIN <= value <= LONG_MAX


def fits(cedar_type: str, value: Any) -> bool:
    """True when `value` is a valid `cedar_type`; TypeError for types the API cannot set."""
    is_set = cedar_type.startswith("Set<") and cedar_type.endswith(">")
    element = cedar_type[4:-1] if is_set else cedar_type
    if element not in SCALARS:
        raise TypeError(cedar_type)
    if not is_set:
        return _scalar(element, value)
    return (
        isinstance(value, list)
        and len(value) <= MAX_SET
        and all(_scalar(element, v) for v in value)
    )


def attribute_errors(changes: Mapping[str, Any], declared: Mapping[str, str]) -> list[str]:
    """Why each change cannot be stored; `None` (removal) is always acceptable."""
    errors: list[str] = []
    for name, value in changes.items():
        if value is None:
            continue
        if name not in declared:
            errors.append(f"{name}: not a declared User attribute (see schema.cedarschema)")
            continue
        try:
            if not fits(declared[name], value):
                errors.append(f"{name}: expected {declared[name]}")
        except TypeError:
            errors.append(f"{name}: attributes of type {declared[name]} cannot be set here")
    return errors
