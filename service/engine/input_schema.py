"""How a tool's JSON Schema `inputSchema` appears in Cedar (documented in the README).

string → String (`format: date-time` also in `context.times`), integer → Long,
number → decimal, boolean → Bool, array → Set, object → record, an object of
free keys → a map record. `const` and `enum` take the type of their values.
Optional: a property not in `required`, `"type": [T, "null"]`, and
`anyOf`/`oneOf` of T and null; a `default` fills in an absent property, so it
is required in Cedar. `$ref` is followed into `#/$defs/…` and `#/definitions/…`;
a type that contains itself is unfolded `REF_UNFOLDS` times.

What Cedar cannot type is hidden: left out of `context.input`, with the reason
kept for `mcp-pdp schema --explain`; its value is still validated against the
schema. Path-like strings also get a record in `context.paths` (engine/paths.py).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from service.engine.errors import InvalidArguments
from service.engine.input_types import CedarType, convert

MAX_DEPTH = 8  # nested records and sets; deeper is hidden
REF_UNFOLDS = 2  # how often one $ref may be unfolded inside itself
MAX_NODES = 2000  # typed nodes per tool, so that schemas stay small for Cedar
_PRIMITIVES = {"string": "String", "integer": "Long", "number": "decimal", "boolean": "Bool"}
_LOCAL_REFS = ("#/$defs/", "#/definitions/")
_NULL = "only null"

# A node's Cedar type and whether null is allowed, or why it has none.
_Typed = tuple[CedarType | str, bool]


def from_json_schema(node: Any) -> CedarType | None:
    """Map a tool's input schema to a Cedar type; None when Cedar cannot type it."""
    typ, _nullable = _Mapper(node).type_of(node, 0, ())
    return typ if isinstance(typ, CedarType) else None


class _Mapper:
    """One walk over one schema document, resolving its local references."""

    def __init__(self, root: Any) -> None:
        self.root = root
        self.budget = MAX_NODES

    def type_of(self, node: Any, depth: int, refs: tuple[str, ...]) -> _Typed:
        if not isinstance(node, dict):
            return "no type", False
        if depth > MAX_DEPTH:
            return f"nested deeper than {MAX_DEPTH} levels", False
        self.budget -= 1
        if self.budget < 0:
            return f"schema larger than {MAX_NODES} nodes", False
        if "$ref" in node:
            return self._ref(node["$ref"], depth, refs)
        types = node.get("type")
        nullable = False
        if isinstance(types, list):
            nullable = "null" in types
            others = [t for t in types if t != "null"]
            if len(others) != 1:
                return ("several types: " + ", ".join(map(str, others))) if others else _NULL, False
            types = others[0]
        if types is None:
            return self._untyped(node, depth, refs)
        if not isinstance(types, str):
            return "no type", False
        if types in _PRIMITIVES:
            return _primitive(types, node), nullable
        if types == "array":
            return self._array(node, depth, refs), nullable
        if types == "object":
            return self._object(node, depth, refs), nullable
        return "no type", False

    def _ref(self, ref: Any, depth: int, refs: tuple[str, ...]) -> _Typed:
        target = self._resolve(ref)
        if isinstance(target, str):
            return target, False
        if refs.count(ref) >= REF_UNFOLDS:
            return f"recursive $ref {ref} unfolded {REF_UNFOLDS} times", False
        return self.type_of(target, depth, (*refs, ref))

    def _resolve(self, ref: Any) -> Any:
        """The node `ref` points at, or a string saying why it is not followed."""
        if not isinstance(ref, str) or not ref.startswith(_LOCAL_REFS):
            return f"$ref {ref}: only #/$defs/… and #/definitions/… are followed"
        node = self.root
        for part in ref[2:].split("/"):
            key = unquote(part).replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or key not in node:
                return f"$ref {ref} points at nothing"
            node = node[key]
        return node

    def _untyped(self, node: dict[str, Any], depth: int, refs: tuple[str, ...]) -> _Typed:
        """A node without `type`: a union, a single-schema allOf, an enum or a const."""
        for keyword in ("anyOf", "oneOf"):
            branches = node.get(keyword)
            if isinstance(branches, list):
                others = [b for b in branches if not _is_null(b)]
                if len(others) != 1:
                    return f"{keyword} of several non-null types" if others else _NULL, False
                typ, nullable = self.type_of(others[0], depth, refs)
                return typ, nullable or len(others) < len(branches)
        parts = node.get("allOf")
        if isinstance(parts, list):
            if len(parts) != 1:
                return "allOf of several schemas", False
            return self.type_of(parts[0], depth, refs)
        if "enum" in node and isinstance(node["enum"], list):
            return _values_type(node["enum"])
        if "const" in node:
            return _values_type([node["const"]])
        return "no type", False

    def _array(self, node: dict[str, Any], depth: int, refs: tuple[str, ...]) -> CedarType | str:
        prefix = node.get("prefixItems")
        items = node.get("items")
        if isinstance(items, list):  # draft-07 and earlier spell a tuple `items: [...]`
            prefix, items = items, node.get("additionalItems")
        if isinstance(prefix, list):
            return self._tuple(prefix, items, depth, refs)
        typ, nullable = self.type_of(items, depth + 1, refs)
        if isinstance(typ, str):
            return f"array items: {typ}"
        if nullable:
            return "array items may be null"
        return CedarType("Set", element=typ)

    def _tuple(
        self, prefix: list[Any], rest: Any, depth: int, refs: tuple[str, ...]
    ) -> CedarType | str:
        """A tuple is a Set when every position has one type; Cedar has no tuples."""
        schemas = [*prefix, *([rest] if isinstance(rest, dict) else [])]
        typed = [self.type_of(s, depth + 1, refs) for s in schemas]
        first = typed[0][0] if typed else None
        if not isinstance(first, CedarType) or any(t != first or null for t, null in typed):
            return "tuple (prefixItems) of different types"
        return CedarType("Set", element=first)

    def _object(self, node: dict[str, Any], depth: int, refs: tuple[str, ...]) -> CedarType | str:
        properties = node.get("properties")
        properties = properties if isinstance(properties, dict) else {}
        extra = node.get("additionalProperties")
        patterns = node.get("patternProperties")
        if not properties and not patterns and (extra is True or isinstance(extra, dict)):
            return self._map(extra, depth, refs)
        required = node.get("required")
        required = required if isinstance(required, list) else []
        attributes: dict[str, tuple[CedarType, bool]] = {}
        hidden: dict[str, str] = {}
        defaults: dict[str, Any] = {}
        for name, schema in properties.items():
            if not _is_clean_name(name):
                hidden[name] = "a name with invisible characters"
                continue
            typ, nullable = self.type_of(schema, depth + 1, refs)
            if isinstance(typ, str):
                hidden[name] = typ
                continue
            default = _default(typ, schema)
            if default is not None:
                defaults[name] = default
            # A default fills in an absent property, but a null stays null: absent in Cedar.
            attributes[name] = (typ, not nullable and (name in required or default is not None))
        note = None
        if patterns:
            note = "patternProperties"
        elif extra is True or isinstance(extra, dict):
            note = "additionalProperties allows undeclared properties"
        return CedarType(
            "Record", attributes=attributes, hidden=hidden, defaults=defaults, note=note
        )

    def _map(self, values: Any, depth: int, refs: tuple[str, ...]) -> CedarType:
        if values is True or values == {}:
            return CedarType("Map", note="map values have no type")
        typ, nullable = self.type_of(values, depth + 1, refs)
        if isinstance(typ, str):
            return CedarType("Map", note=f"map values: {typ}")
        if nullable:
            return CedarType("Map", note="map values may be null")
        return CedarType("Map", element=typ)


def _primitive(types: str, node: dict[str, Any]) -> CedarType:
    if types != "string":
        return CedarType(_PRIMITIVES[types])
    values = node.get("enum", [node["const"]] if "const" in node else None)
    strings = None
    if isinstance(values, list) and values and all(isinstance(v, str) for v in values):
        strings = frozenset(values)
    return CedarType("String", enum=strings, date_time=node.get("format") == "date-time")


def _values_type(values: list[Any]) -> _Typed:
    """The type of an `enum` or `const` without `type`: that of its values."""
    nullable = None in values
    present = [v for v in values if v is not None]
    if not present:
        return _NULL, False
    if all(isinstance(v, str) for v in present):
        return CedarType("String", enum=frozenset(present)), nullable
    if all(isinstance(v, bool) for v in present):
        return CedarType("Bool"), nullable
    if all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return CedarType("Long"), nullable
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return CedarType("decimal"), nullable
    return "enum of values of different types", False


def _is_null(node: Any) -> bool:
    return isinstance(node, dict) and (
        node.get("type") == "null" or node.get("const", 0) is None or node.get("enum") == [None]
    )


def _default(typ: CedarType, schema: Any) -> Any:
    """The property's `default` in Cedar form; None when it has none that fits."""
    if not isinstance(schema, dict) or schema.get("default") is None:
        return None
    try:
        return convert(typ, schema["default"])
    except InvalidArguments:
        return None  # a default that does not fit its own type is left to the server


def _is_clean_name(name: str) -> bool:
    # Cedar could take any name but a lone surrogate (cedar_string escapes the
    # rest); invisible names (control, format, unassigned characters) stay out
    # because a policy author could not tell them from the name they look like.
    return 0 < len(name) <= 256 and all(ch.isprintable() for ch in name)


def explain(typ: CedarType, path: str = "arguments") -> list[str]:
    """One line per part of the arguments policies cannot see, with the reason."""
    lines: list[str] = []
    if typ.kind == "Set" and typ.element is not None:
        if typ.element.date_time:
            lines.append(f"{path}: date-times in a Set are Strings only, not in context.times")
        lines += explain(typ.element, f"{path}[]")
    elif typ.kind == "Map":
        if typ.element is None:
            keys = f"only the keys are visible ({path}.keys)"
            lines.append(f"{path}: {typ.note}: {keys}, values still validated")
        else:
            lines += explain(typ.element, f"{path}.entries[].value")
    elif typ.kind == "Record":
        for name, reason in sorted(typ.hidden.items()):
            lines.append(f"{path}.{name}: {reason}: hidden from policies, value still validated")
        if typ.note is not None:
            lines.append(f"{path}: {typ.note}: hidden from policies, values still validated")
        for name, (attribute, _required) in sorted(typ.attributes.items()):
            lines += explain(attribute, f"{path}.{name}")
    return lines
