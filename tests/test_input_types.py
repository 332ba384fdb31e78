"""JSON Schema → Cedar types, and argument conversion (invalid_arguments on mismatch)."""

from __future__ import annotations

import json

import cedarpy
import pytest

from service.engine.cedar_text import cedar_string
from service.engine.errors import InvalidArguments
from service.engine.input_types import convert, from_json_schema
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
    assert TYPE.hidden == frozenset({"blob"})


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
        ({}, "arguments.name: required"),
        ({"name": 1}, "arguments.name: expected a string"),
        ({"name": "x", "count": "1"}, "arguments.count: expected an integer"),
        ({"name": "x", "count": 2**63}, "out of range"),
        ({"name": "x", "count": True}, "expected an integer"),
        ({"name": "x", "ratio": 0.12345}, "more than 4 decimal places"),
        ({"name": "x", "ratio": float("inf")}, "number"),
        ({"name": "x", "mode": "reckless"}, "not one of the allowed values"),
        ({"name": "x", "tags": "a"}, "expected an array"),
        ({"name": "x", "tags": ["a", 1]}, "arguments.tags[1]: expected a string"),
        ({"name": "x", "opts": {}}, "arguments.opts.depth: required"),
        ({"name": "x", "opts": {"depth": 1, "extra": 1}}, "arguments.opts.extra: not declared"),
        ({"name": "x", "sudo": True}, "arguments.sudo: not declared"),
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
