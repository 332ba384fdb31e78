"""JSON Schema → Cedar types, and argument conversion (invalid_arguments on mismatch)."""

from __future__ import annotations

import json

import cedarpy
import pytest

from service.engine.cedar_text import cedar_string
from service.engine.errors import InvalidArguments
from service.engine.input_schema import explain, from_json_schema
from service.engine.input_types import convert
from service.engine.tools import Tool

SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "count": {"type": "integer"},
        "ratio": {"type": "number"},
        "flag": {"type": "boolean"},
        "mode": {"type": "string", "enum": ["fast", "safe"]},
        "tags": {"type": "array", "items": {"type": "string"}},
        "opts": {
            "type": "object",
            "properties": {"depth": {"type": "integer"}},
            "required": ["depth"],
        },
        "note": {"type": ["string", "null"]},
        "blob": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
    },
    "required": ["name", "note"],
}
TYPE = from_json_schema(SCHEMA)


def test_mapping_to_cedar_text() -> None:
    assert TYPE is not None
    assert TYPE.to_cedar() == (
        '{"count"?: Long, "flag"?: Bool, "mode"?: String, "name": String, "note"?: String, '
        '"opts"?: {"depth": Long}, "ratio"?: decimal, "tags"?: Set<String>}'
    )
    assert TYPE.hidden == {"blob": "anyOf of several non-null types"}


def test_conversion_of_every_kind() -> None:
    value = convert(
        TYPE,
        {
            "name": "x",
            "count": 3.0,
            "ratio": 0.25,
            "flag": False,
            "mode": "safe",
            "tags": ["a", "b"],
            "opts": {"depth": 2},
            "note": None,
            "blob": [1, 2],
        },
    )
    assert value == {
        "name": "x",
        "count": 3,
        "ratio": {"__extn": {"fn": "decimal", "arg": "0.2500"}},
        "flag": False,
        "mode": "safe",
        "tags": ["a", "b"],
        "opts": {"depth": 2},
    }


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({}, "/name: required"),
        ({"name": 1}, "/name: expected a string"),
        ({"name": "x", "count": "1"}, "/count: expected an integer"),
        ({"name": "x", "count": 2**63}, "out of range"),
        ({"name": "x", "count": True}, "expected an integer"),
        ({"name": "x", "ratio": 0.12345}, "more than 4 decimal places"),
        ({"name": "x", "ratio": float("inf")}, "number"),
        ({"name": "x", "mode": "reckless"}, "not one of the allowed values"),
        ({"name": "x", "tags": "a"}, "expected an array"),
        ({"name": "x", "tags": ["a", 1]}, "/tags/1: expected a string"),
        ({"name": "x", "opts": {}}, "/opts/depth: required"),
        ({"name": "x", "opts": {"depth": 1, "extra": 1}}, "/opts/extra: not declared"),
        ({"name": "x", "sudo": True}, "/sudo: not declared"),
    ],
)
def test_mismatches_are_invalid_arguments(arguments: dict, message: str) -> None:
    with pytest.raises(InvalidArguments, match=message.replace("[", r"\[").replace("]", r"\]")):
        convert(TYPE, arguments)


@pytest.mark.parametrize("schema", [{"type": "string"}, {"anyOf": []}, "nonsense", {}])
def test_roots_that_are_not_objects_take_no_arguments(schema: object) -> None:
    tool = Tool("t", input_schema=schema)  # type: ignore[arg-type]
    assert tool.input_type.to_cedar() == "{}"
    assert convert(tool.input_type, {}) == {}
    with pytest.raises(InvalidArguments, match="not declared"):
        convert(tool.input_type, {"x": 1})


def test_deep_schemas_stop_at_the_depth_limit() -> None:
    node: dict = {"type": "string"}
    for _ in range(20):
        node = {"type": "object", "properties": {"x": node}}
    typ = from_json_schema(node)
    assert typ is not None
    text = typ.to_cedar()
    assert text.count("{") <= 10


# JSON and Cedar escape these differently (or one of them not at all).
AWKWARD = ["à", 'say "hi"', "back\\slash", "😀", "it's", "a\nb\r\t", "nul\0", "del\x7f", "zw\u200b"]


@pytest.mark.parametrize("value", AWKWARD)
def test_cedar_string_round_trips_through_cedar(value: str) -> None:
    literal = cedar_string(value)
    policy = f"permit (principal, action, resource) when {{ context[{literal}] == {literal} }};"
    body = json.loads(cedarpy.policies_to_json_str(policy))["staticPolicies"]["policy0"]
    equals = body["conditions"][0]["body"]["=="]
    assert (equals["left"]["."]["attr"], equals["right"]["Value"]) == (value, value)
    schema = f"entity User {{{literal}: String}};"
    assert cedarpy.Schema.from_str(schema) is not None


def test_cedar_string_escapes() -> None:
    assert cedar_string("à") == '"à"'  # raw UTF-8, not JSON's \\u00e0
    assert cedar_string('"\\\n\0') == '"\\"\\\\\\n\\0"'
    assert cedar_string("\u200b\x7f") == '"\\u{200b}\\u{7f}"'
    with pytest.raises(ValueError, match="surrogate"):
        cedar_string("\ud800")


def test_awkward_property_names_make_a_schema_cedar_parses() -> None:
    schema = {"type": "object", "properties": {name: {"type": "string"} for name in AWKWARD}}
    tool = Tool("odd___names", input_schema=schema)
    # Printable names are typed; invisible ones stay out of context.input.
    assert set(tool.input_type.attributes) == {"à", 'say "hi"', "back\\slash", "😀", "it's"}
    text = f"namespace Mcp {{ entity User; type Input = {tool.input_type.to_cedar()}; }}"
    assert cedarpy.Schema.from_str(text) is not None


# What Python MCP servers (pydantic, FastMCP, the SDK) emit, node by node.
PYDANTIC = {
    "type": "object",
    "$defs": {
        "Money": {
            "type": "object",
            "properties": {"amount": {"type": "integer"}, "currency": {"const": "EUR"}},
            "required": ["amount", "currency"],
        },
        "Folder": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "children": {"type": "array", "items": {"$ref": "#/$defs/Folder"}, "default": []},
            },
            "required": ["name"],
        },
    },
    "definitions": {"Tag": {"enum": ["red", "green"], "type": "string"}},
    "properties": {
        "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
        "pick": {"oneOf": [{"type": "null"}, {"$ref": "#/$defs/Money"}]},
        "money": {"$ref": "#/$defs/Money", "description": "siblings of $ref are annotations"},
        "tag": {"$ref": "#/definitions/Tag"},
        "root": {"$ref": "#/$defs/Folder"},
        "level": {"enum": [1, 2, 3]},
        "on": {"const": True},
        "ratio": {"const": 0.5},
        "limit": {"type": "integer", "default": 10, "title": "Limit"},
        "at": {"type": "string", "format": "date-time"},
        "size": {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "integer"}]},
        "pair": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}]},
        "stock": {"type": "object", "additionalProperties": {"type": "integer"}},
        "labels": {"type": "object", "additionalProperties": True},
        "key": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
        "away": {"$ref": "https://example.com/schema.json"},
        "elsewhere": {"$ref": "#/properties/note"},
        "both": {"allOf": [{"$ref": "#/$defs/Money"}, {"required": ["amount"]}]},
        "one": {"allOf": [{"$ref": "#/$defs/Money"}]},
        "mixed": {"enum": ["a", 1]},
        "many": {"type": ["string", "integer"]},
    },
    "required": ["money", "root", "at"],
    "additionalProperties": False,
}
PYDANTIC_TYPE = Tool("py", input_schema=PYDANTIC).input_type


def test_python_server_schemas_are_typed() -> None:
    attributes = {n: (t.to_cedar(), r) for n, (t, r) in PYDANTIC_TYPE.attributes.items()}
    money = '{"amount": Long, "currency": String}'
    assert attributes == {
        "note": ("String", False),
        "pick": (money, False),
        "money": (money, True),
        "tag": ("String", False),
        "root": ('{"children": Set<{"name": String}>, "name": String}', True),
        "level": ("Long", False),
        "on": ("Bool", False),
        "ratio": ("decimal", False),
        "limit": ("Long", True),  # a default fills it in when absent
        "at": ("String", True),
        "size": ("Set<Long>", False),
        "stock": ('{"entries": Set<{"key": String, "value": Long}>, "keys": Set<String>}', False),
        "labels": ('{"keys": Set<String>}', False),
        "one": (money, False),
    }
    assert PYDANTIC_TYPE.attributes["tag"][0].enum == frozenset({"red", "green"})
    assert PYDANTIC_TYPE.attributes["money"][0].attributes["currency"][0].enum == {"EUR"}


def test_what_cannot_be_typed_is_hidden_with_a_reason() -> None:
    assert PYDANTIC_TYPE.hidden == {
        "pair": "tuple (prefixItems) of different types",
        "key": "anyOf of several non-null types",
        "away": "$ref https://example.com/schema.json: only #/$defs/… and #/definitions/… are followed",
        "elsewhere": "$ref #/properties/note: only #/$defs/… and #/definitions/… are followed",
        "both": "allOf of several schemas",
        "mixed": "enum of values of different types",
        "many": "several types: string, integer",
    }
    lines = explain(PYDANTIC_TYPE)
    assert (
        "arguments.key: anyOf of several non-null types: hidden from policies, value still validated"
        in lines
    )
    assert (
        "arguments.root.children[].children: array items: recursive $ref #/$defs/Folder "
        "unfolded 2 times: "
        "hidden from policies, value still validated"
    ) in lines
    assert any(line.startswith("arguments.labels: map values have no type") for line in lines)


def test_defaults_and_nulls_are_converted() -> None:
    value = convert(
        PYDANTIC_TYPE,
        {
            "note": None,
            "money": {"amount": 5, "currency": "EUR"},
            "root": {"name": "a", "children": [{"name": "b", "children": [{"name": "c"}]}]},
            "at": "2026-05-01T10:00:00+02:00",
            "size": [3, 4, 3],
            "stock": {"b": 2, "a": 1},
            "labels": {"x": [1], "y": None},
            "key": 5,
        },
    )
    assert value == {
        "money": {"amount": 5, "currency": "EUR"},
        "root": {"name": "a", "children": [{"name": "b"}]},
        "at": "2026-05-01T10:00:00+02:00",
        "limit": 10,
        "size": [3, 4, 3],
        "stock": {
            "keys": ["a", "b"],
            "entries": [{"key": "a", "value": 1}, {"key": "b", "value": 2}],
        },
        "labels": {"keys": ["x", "y"]},
    }


def test_date_times_get_a_cedar_datetime_and_epoch_seconds() -> None:
    tool = Tool(
        "t",
        input_schema={
            "type": "object",
            "properties": {
                "at": {"type": "string", "format": "date-time"},
                "window": {
                    "type": "object",
                    "properties": {"end": {"type": "string", "format": "date-time"}},
                },
                "many": {"type": "array", "items": {"type": "string", "format": "date-time"}},
            },
            "required": ["at"],
        },
    )
    assert tool.times_type == (
        '{"at": {"datetime": datetime, "epoch": Long}, '
        '"window"?: {"end"?: {"datetime": datetime, "epoch": Long}}}'
    )
    context = tool.call_context(
        {"at": "2026-05-01T10:00:00.5+02:00", "window": {"end": "2026-05-01t08:00:00z"}}
    )
    assert context["times"] == {
        "at": {
            "datetime": {"__extn": {"fn": "datetime", "arg": "2026-05-01T08:00:00.500Z"}},
            "epoch": 1777622400,
        },
        "window": {
            "end": {
                "datetime": {"__extn": {"fn": "datetime", "arg": "2026-05-01T08:00:00.000Z"}},
                "epoch": 1777622400,
            }
        },
    }
    assert "times" not in Tool("u", input_schema={"type": "object"}).call_context({})


def test_recursion_and_size_are_bounded() -> None:
    # A binary tree of itself: unfolded twice, not 2**depth times.
    tree = {
        "$defs": {
            "N": {
                "type": "object",
                "properties": {
                    "l": {"$ref": "#/$defs/N"},
                    "r": {"$ref": "#/$defs/N"},
                    "v": {"type": "integer"},
                },
            }
        },
        "type": "object",
        "properties": {"root": {"$ref": "#/$defs/N"}},
    }
    text = Tool("tree", input_schema=tree).input_type.to_cedar()
    assert text.count('"v"') == 3
    assert cedarpy.Schema.from_str(f"namespace Mcp {{ type Input = {text}; }}") is not None
