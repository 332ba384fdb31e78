"""Cedar types for tool arguments, and the conversion of arguments to `context.input`.

`service/engine/input_schema.py` maps a tool's JSON Schema to these types; the
arguments have been validated against that schema (engine/argument_check.py)
before `convert` runs, so what is left to check here is what Cedar adds: Long
and decimal ranges, and that a record the policies see has no property its
schema does not declare. Errors name a JSON pointer into the arguments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from service.engine.cedar_text import cedar_string
from service.engine.errors import InvalidArguments

_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1
_DECIMAL_LIMIT = Decimal("922337203685477.5807")


@dataclass(frozen=True)
class CedarType:
    """One JSON Schema node as a Cedar type.

    A Map is a JSON object with free keys (`additionalProperties: T`): Cedar sees
    `{keys: Set<String>, entries: Set<{key: String, value: T}>}`, or only `keys`
    when T has no Cedar type (`element` None).
    """

    kind: str  # String, Long, decimal, Bool, Set, Record, Map
    element: CedarType | None = None  # Set items, Map values
    attributes: dict[str, tuple[CedarType, bool]] = field(default_factory=dict)
    hidden: dict[str, str] = field(default_factory=dict)  # property → why Cedar cannot type it
    defaults: dict[str, Any] = field(default_factory=dict)  # property → Cedar value when absent
    enum: frozenset[str] | None = None
    date_time: bool = False  # a String with `format: date-time`: also in context.times
    # Record: why undeclared properties pass (None: they are refused); Map: why values are hidden.
    note: str | None = None

    def to_cedar(self) -> str:
        """Render as Cedar schema syntax."""
        if self.kind == "Set":
            assert self.element is not None
            return f"Set<{self.element.to_cedar()}>"
        if self.kind == "Map":
            keys = '"keys": Set<String>'
            if self.element is None:
                return "{" + keys + "}"
            entry = f'{{"key": String, "value": {self.element.to_cedar()}}}'
            return f'{{"entries": Set<{entry}>, {keys}}}'
        if self.kind == "Record":
            fields = ", ".join(
                f"{cedar_string(name)}{'' if required else '?'}: {typ.to_cedar()}"
                for name, (typ, required) in sorted(self.attributes.items())
            )
            return "{" + fields + "}"
        return self.kind


EMPTY_RECORD = CedarType("Record")


def pointer(parent: str, key: str | int) -> str:
    """The JSON pointer of `key` below `parent` (RFC 6901 escapes)."""
    return f"{parent}/{str(key).replace('~', '~0').replace('/', '~1')}"


def convert(typ: CedarType, value: Any, path: str = "") -> Any:
    """Convert a JSON value to Cedar's JSON form for `typ`, or raise InvalidArguments."""
    kind = typ.kind
    where = path or "/"
    if kind == "String":
        if not isinstance(value, str):
            raise InvalidArguments(f"{where}: expected a string")
        if typ.enum is not None and value not in typ.enum:
            raise InvalidArguments(f"{where}: not one of the allowed values")
        return value
    if kind == "Bool":
        if not isinstance(value, bool):
            raise InvalidArguments(f"{where}: expected a boolean")
        return value
    if kind == "Long":
        return _long(value, where)
    if kind == "decimal":
        return {"__extn": {"fn": "decimal", "arg": _decimal(value, where)}}
    if kind == "Set":
        if not isinstance(value, list):
            raise InvalidArguments(f"{where}: expected an array")
        assert typ.element is not None
        return [convert(typ.element, item, pointer(path, i)) for i, item in enumerate(value)]
    if kind == "Map":
        return _convert_map(typ, value, path)
    return _convert_record(typ, value, path)


def _convert_record(typ: CedarType, value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidArguments(f"{path or '/'}: expected an object")
    out: dict[str, Any] = {}
    for name, item in value.items():
        if name in typ.hidden:
            continue
        if name not in typ.attributes:
            if typ.note is not None:
                continue  # the schema lets undeclared properties through; Cedar cannot type them
            raise InvalidArguments(f"{pointer(path, name)}: not declared in the tool's inputSchema")
        if item is None and not typ.attributes[name][1]:
            continue  # null on an optional field reads as absent
        out[name] = convert(typ.attributes[name][0], item, pointer(path, name))
    for name, default in typ.defaults.items():
        if name not in value:
            out[name] = default  # what the server will use when the caller sends nothing
    missing = [n for n, (_, required) in typ.attributes.items() if required and n not in out]
    if missing:
        raise InvalidArguments(f"{pointer(path, sorted(missing)[0])}: required")
    return out


def _convert_map(typ: CedarType, value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidArguments(f"{path or '/'}: expected an object")
    keys = sorted(value)
    if typ.element is None:
        return {"keys": keys}
    entries = [
        {"key": key, "value": convert(typ.element, value[key], pointer(path, key))} for key in keys
    ]
    return {"keys": keys, "entries": entries}


def _long(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArguments(f"{where}: expected an integer")
    if isinstance(value, float):
        if not value.is_integer():
            raise InvalidArguments(f"{where}: expected an integer")
        value = int(value)
    if not _LONG_MIN <= value <= _LONG_MAX:
        raise InvalidArguments(f"{where}: integer out of range")
    return int(value)


def _decimal(value: Any, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArguments(f"{where}: expected a number")
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation as exc:  # nan, inf
        raise InvalidArguments(f"{where}: not a finite number") from exc
    if not number.is_finite() or abs(number) > _DECIMAL_LIMIT:
        raise InvalidArguments(f"{where}: number out of range")
    exponent = number.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -4:
        raise InvalidArguments(f"{where}: more than 4 decimal places")
    return f"{number:.4f}"
