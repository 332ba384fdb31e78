"""How a tool's JSON Schema `inputSchema` appears in Cedar, and the conversion
of call arguments to `context.input`.

Mapping (documented in the README): string → String (an `enum` is checked
here, the value stays a String), integer → Long, number → decimal,
boolean → Bool, array → Set, object → record. `"type": [T, "null"]` is an
optional T. Constructs Cedar cannot type (anyOf, $ref, untyped) are left out of
`context.input`: policies cannot see them, and their values are not passed.
Arguments a tool does not declare are refused (`invalid_arguments`).
Path-like string arguments keep their raw value here and also get a normalised
record in `context.paths` (see `service/engine/paths.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from service.engine.cedar_text import cedar_string
from service.engine.errors import InvalidArguments

MAX_DEPTH = 8
_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1
_DECIMAL_LIMIT = Decimal("922337203685477.5807")
_PRIMITIVES = {"string": "String", "integer": "Long", "number": "decimal", "boolean": "Bool"}


@dataclass(frozen=True)
class CedarType:
    """One JSON Schema node as a Cedar type."""

    kind: str  # String, Long, decimal, Bool, Set, Record
    element: CedarType | None = None
    attributes: dict[str, tuple[CedarType, bool]] = field(default_factory=dict)
    hidden: frozenset[str] = frozenset()  # declared but not typeable in Cedar
    enum: frozenset[str] | None = None

    def to_cedar(self) -> str:
        """Render as Cedar schema syntax."""
        if self.kind == "Set":
            assert self.element is not None
            return f"Set<{self.element.to_cedar()}>"
        if self.kind == "Record":
            fields = ", ".join(
                f"{cedar_string(name)}{'' if required else '?'}: {typ.to_cedar()}"
                for name, (typ, required) in sorted(self.attributes.items())
            )
            return "{" + fields + "}"
        return self.kind


EMPTY_RECORD = CedarType("Record")


def from_json_schema(node: Any, depth: int = 0) -> CedarType | None:
    """Map a JSON Schema node to a Cedar type; None when Cedar cannot type it."""
    if not isinstance(node, dict) or depth > MAX_DEPTH:
        return None
    typ = node.get("type")
    if isinstance(typ, list):
        others = [t for t in typ if t != "null"]
        typ = others[0] if len(others) == 1 else None
    if typ is None and "enum" in node:
        typ = "string"
    if typ is None and isinstance(node.get("const"), str):
        typ = "string"
    if typ in _PRIMITIVES:
        return CedarType(_PRIMITIVES[typ], enum=_string_enum(node) if typ == "string" else None)
    if typ == "array":
        element = from_json_schema(node.get("items"), depth + 1)
        return CedarType("Set", element=element) if element else None
    if typ == "object":
        return _record(node, depth)
    return None


def _string_enum(node: dict[str, Any]) -> frozenset[str] | None:
    if isinstance(node.get("const"), str):
        return frozenset([node["const"]])
    values = node.get("enum")
    if isinstance(values, list) and values and all(isinstance(v, str) for v in values):
        return frozenset(values)
    return None


def _record(node: dict[str, Any], depth: int) -> CedarType:
    properties = node.get("properties")
    if not isinstance(properties, dict):
        properties = {}
    required = node.get("required")
    if not isinstance(required, list):
        required = []
    attributes: dict[str, tuple[CedarType, bool]] = {}
    hidden: set[str] = set()
    for name, schema in properties.items():
        typ = from_json_schema(schema, depth + 1)
        types = schema.get("type") if isinstance(schema, dict) else None
        nullable = isinstance(types, list) and "null" in types
        if typ is None or not _is_clean_name(name):
            hidden.add(name)
        else:
            attributes[name] = (typ, name in required and not nullable)
    return CedarType("Record", attributes=attributes, hidden=frozenset(hidden))


def _is_clean_name(name: str) -> bool:
    # Cedar could take any name but a lone surrogate (cedar_string escapes the
    # rest); invisible names (control, format, unassigned characters) stay out
    # because a policy author could not tell them from the name they look like.
    return 0 < len(name) <= 256 and all(ch.isprintable() for ch in name)


def convert(typ: CedarType, value: Any, path: str = "arguments") -> Any:
    """Convert a JSON value to Cedar's JSON form for `typ`, or raise InvalidArguments."""
    kind = typ.kind
    if kind == "String":
        if not isinstance(value, str):
            raise InvalidArguments(f"{path}: expected a string")
        if typ.enum is not None and value not in typ.enum:
            raise InvalidArguments(f"{path}: not one of the allowed values")
        return value
    if kind == "Bool":
        if not isinstance(value, bool):
            raise InvalidArguments(f"{path}: expected a boolean")
        return value
    if kind == "Long":
        return _long(value, path)
    if kind == "decimal":
        return {"__extn": {"fn": "decimal", "arg": _decimal(value, path)}}
    if kind == "Set":
        if not isinstance(value, list):
            raise InvalidArguments(f"{path}: expected an array")
        assert typ.element is not None
        return [convert(typ.element, item, f"{path}[{i}]") for i, item in enumerate(value)]
    return _convert_record(typ, value, path)


def _convert_record(typ: CedarType, value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidArguments(f"{path}: expected an object")
    out: dict[str, Any] = {}
    for name, item in value.items():
        if name in typ.hidden:
            continue
        if name not in typ.attributes:
            raise InvalidArguments(f"{path}.{name}: not declared in the tool's inputSchema")
        if item is None and not typ.attributes[name][1]:
            continue  # null on an optional field reads as absent
        out[name] = convert(typ.attributes[name][0], item, f"{path}.{name}")
    missing = [n for n, (_, required) in typ.attributes.items() if required and n not in out]
    if missing:
        raise InvalidArguments(f"{path}.{sorted(missing)[0]}: required")
    return out


def _long(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArguments(f"{path}: expected an integer")
    if isinstance(value, float):
        if not value.is_integer():
            raise InvalidArguments(f"{path}: expected an integer")
        value = int(value)
    if not _LONG_MIN <= value <= _LONG_MAX:
        raise InvalidArguments(f"{path}: integer out of range")
    return int(value)


def _decimal(value: Any, path: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArguments(f"{path}: expected a number")
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation as exc:  # nan, inf
        raise InvalidArguments(f"{path}: not a finite number") from exc
    if not number.is_finite() or abs(number) > _DECIMAL_LIMIT:
        raise InvalidArguments(f"{path}: number out of range")
    exponent = number.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -4:
        raise InvalidArguments(f"{path}: more than 4 decimal places")
    return f"{number:.4f}"
