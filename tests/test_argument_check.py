"""Call arguments are validated against the tool's whole inputSchema (jsonschema)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from service.engine.errors import InvalidArguments
from service.engine.tools import Tool, ToolDefinitionError, tool_from_mcp
from tests.conftest import demo_tools

FILTERS = {
    "type": "object",
    "properties": {
        "filters": {
            "anyOf": [
                {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "amount": {"type": "integer", "maximum": 1000},
                            "code": {"type": "string", "pattern": "^[A-Z]+$"},
                        },
                    },
                    "maxItems": 3,
                },
                {"type": "null"},
            ]
        },
        "hidden": {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "string"}]},
        "when": {"type": "string", "format": "date-time"},
        "mail": {"type": "string", "format": "email"},
        "free": {"type": "string", "format": "no-such-format"},
    },
    "additionalProperties": False,
}


def _errors(tool: Tool, arguments: dict[str, Any]) -> list[str]:
    with pytest.raises(InvalidArguments) as raised:
        tool.call_context(arguments)
    return list(raised.value.messages)


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        (
            {"filters": [{"amount": 1}, {"amount": 5000}]},
            "/filters/1/amount: 5000 is greater than the maximum of 1000",
        ),
        ({"filters": [{"code": "abc"}]}, "/filters/0/code: 'abc' does not match '^[A-Z]+$'"),
        # Into anyOf: the branch of the value's own type says what is wrong.
        ({"filters": [{}, {}, {}, {}]}, "/filters: [{}, {}, {}, {}] is too long"),
        ({"hidden": -1}, "/hidden: -1 is less than the minimum of 0"),
        ({"when": "2026-02-30T10:00:00Z"}, "/when: '2026-02-30T10:00:00Z' is not a 'date-time'"),
        ({"when": "2026-05-01 10:00:00Z"}, "/when: '2026-05-01 10:00:00Z' is not a 'date-time'"),
        ({"mail": "nobody"}, "/mail: 'nobody' is not a 'email'"),
        ({"extra": 1}, "/extra: not declared in the tool's inputSchema"),
    ],
)
def test_failures_name_the_json_pointer(arguments: dict[str, Any], error: str) -> None:
    assert _errors(Tool("t", input_schema=FILTERS), arguments)[0] == error


def test_valid_values_pass_and_unknown_formats_are_annotations() -> None:
    tool = Tool("t", input_schema=FILTERS)
    context = tool.call_context(
        {
            "filters": None,
            "hidden": "x",
            "when": "2026-05-01T10:00:00.123456-05:30",
            "free": "anything",
        }
    )
    assert context["input"] == {"when": "2026-05-01T10:00:00.123456-05:30", "free": "anything"}


def test_every_failure_is_reported_once_up_to_a_limit() -> None:
    schema = {
        "type": "object",
        "properties": {f"n{i}": {"type": "integer"} for i in range(20)},
        "required": ["a", "b"],
    }
    errors = _errors(Tool("t", input_schema=schema), {f"n{i}": "x" for i in range(20)})
    assert errors[:2] == ["/a: required", "/b: required"]
    assert len(errors) == 10
    long = _errors(Tool("t", input_schema=schema), {"a": 1, "b": 1, "n1": "x" * 5000})
    assert len(long[0]) <= 200


def test_draft_07_schemas_are_read_as_draft_07() -> None:
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "definitions": {"N": {"type": "integer", "exclusiveMaximum": 10}},
        "properties": {"n": {"$ref": "#/definitions/N"}, "pair": {"items": [{"type": "string"}]}},
    }
    tool = Tool("t", input_schema=schema)
    assert _errors(tool, {"n": 10}) == ["/n: 10 is greater than or equal to the maximum of 10"]
    assert _errors(tool, {"pair": [1]}) == ["/pair/0: 1 is not of type 'string'"]
    assert tool.call_context({"n": 9})["input"] == {"n": 9}


def test_cedar_limits_are_still_checked_after_the_schema() -> None:
    tool = Tool("t", input_schema={"type": "object", "properties": {"n": {"type": "integer"}}})
    assert _errors(tool, {"n": 2**63}) == ["/n: integer out of range"]
    ratio = Tool("t", input_schema={"type": "object", "properties": {"r": {"type": "number"}}})
    assert _errors(ratio, {"r": 0.12345}) == ["/r: more than 4 decimal places"]
    assert _errors(tool, {"m": 1}) == ["/m: not declared in the tool's inputSchema"]


@pytest.mark.parametrize(
    ("schema", "problem"),
    [
        ({"type": "object", "properties": {"a": {"type": "strin"}}}, "/properties/a/type"),
        ({"type": "object", "properties": {"a": {"minimum": "1"}}}, "/properties/a/minimum"),
        ({"$schema": "https://example.com/my-dialect", "type": "object"}, "unknown $schema"),
        (
            {"type": "object", "properties": {"a": {"$ref": "#/$defs/Missing"}}},
            "$ref #/$defs/Missing points at nothing",
        ),
        (
            {"type": "object", "properties": {"a": {"$ref": "https://example.com/a.json"}}},
            "$ref https://example.com/a.json: only references inside the inputSchema",
        ),
        ({"type": "object", "properties": {"a": {"pattern": "(unclosed"}}}, "/properties/a"),
    ],
)
def test_invalid_schemas_are_refused_at_registration(schema: dict[str, Any], problem: str) -> None:
    with pytest.raises(ToolDefinitionError, match="inputSchema") as raised:
        tool_from_mcp({"name": "t", "inputSchema": schema})
    assert problem in str(raised.value)
    # One that slipped in (stored before this check) refuses every call instead.
    assert _errors(Tool("t", input_schema=schema), {})[0].startswith("the tool's inputSchema")


async def test_the_admin_api_refuses_an_invalid_schema(admin: httpx.AsyncClient) -> None:
    tool = {"name": "bad___tool", "inputSchema": {"type": "object", "required": "a"}}
    response = await admin.put("/admin/v1/tools", json={"tools": [*demo_tools(), tool]})
    assert response.status_code == 422, response.text
    assert "bad___tool: inputSchema" in response.json()["detail"]
    assert "/required" in response.json()["detail"]


async def test_a_decision_names_the_pointer(client: httpx.AsyncClient) -> None:
    body = {
        "claims": {"sub": "bob", "scope": "tools:write"},
        "method": "tools/call",
        "tool": "payments___refund",
        "arguments": {"orderId": "A-1", "amount": 1, "currency": "GBP"},
    }
    answer = (await client.post("/v1/decisions", json=body)).json()
    assert (answer["decision"], answer["code"]) == ("deny", "invalid_arguments")
    assert answer["errors"] == ["/currency: 'GBP' is not one of ['EUR', 'USD']"]


def test_depth_beyond_the_stack_is_refused_not_crashed() -> None:
    deep: dict[str, Any] = {"type": "string"}
    for _ in range(400):
        deep = {"type": "object", "properties": {"x": deep}}
    with pytest.raises(ToolDefinitionError, match="nested too deeply"):
        tool_from_mcp({"name": "deep", "inputSchema": deep})
    # A recursive schema takes values of any depth: one deeper than the stack is invalid.
    schema = {
        "$defs": {"N": {"type": "object", "properties": {"x": {"$ref": "#/$defs/N"}}}},
        "$ref": "#/$defs/N",
    }
    tool = tool_from_mcp({"name": "rec", "inputSchema": schema})
    value: dict[str, Any] = {}
    inner = value
    for _ in range(2000):
        inner["x"] = {}
        inner = inner["x"]
    assert _errors(tool, value) == ["/: nested too deeply to be checked"]
    assert tool.call_context({"x": {"x": {"x": {}}}})["input"] == {"x": {}}
