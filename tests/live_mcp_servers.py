"""Two real MCP servers, as Python developers write them, for tests/test_live_schemas.py.

`python -m tests.live_mcp_servers fastmcp PORT` serves a FastMCP server whose tools
use the usual Python types; `... lowlevel PORT` serves a server written against the
official SDK's low-level `Server`, declaring a hand-written schema with `$ref`/`$defs`
and `anyOf`. Both speak MCP over streamable HTTP on 127.0.0.1 only.
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any, Literal

import mcp_types as types
import uvicorn
from fastmcp import FastMCP
from mcp.server.lowlevel import Server
from pydantic import BaseModel, Field


class Address(BaseModel):
    """Where an order goes."""

    city: str
    zip: str | None = None


class OrderLine(BaseModel):
    """One line of an order."""

    sku: str
    qty: int = Field(ge=1, le=100)
    gift: bool = False


class Filter(BaseModel):
    """A search filter on an amount."""

    field: Literal["amount", "fee"]
    amount: int = Field(le=1000)


class Folder(BaseModel):
    """A folder that holds folders: a recursive model."""

    name: str
    children: list[Folder] = []


def fastmcp_server() -> FastMCP:
    """A FastMCP server with one tool per kind of argument."""
    app = FastMCP("shop")

    @app.tool
    def search(query: str, limit: int = 10, note: str | None = None) -> str:
        """Optional[str] and an integer default."""
        return query

    @app.tool
    def pay(currency: Literal["EUR", "USD"], amount: int, mode: Literal["card"] = "card") -> str:
        """Literal as enum and const."""
        return currency

    @app.tool
    def place_order(lines: list[OrderLine], ship_to: Address) -> str:
        """A list of models and a nested model."""
        return ship_to.city

    @app.tool
    def schedule(at: datetime, until: datetime | None = None) -> str:
        """date-time arguments, one optional."""
        return at.isoformat()

    @app.tool
    def restock(stock: dict[str, int]) -> str:
        """A map: dict[str, int]."""
        return str(len(stock))

    @app.tool
    def find(filters: list[Filter] | None = None) -> str:
        """An optional list of models with a bounded field."""
        return str(filters)

    @app.tool
    def browse(root: Folder) -> str:
        """A recursive model: FastMCP keeps it as a $ref into $defs."""
        return root.name

    @app.tool
    def resize(size: tuple[int, int], label: tuple[str, int] | None = None) -> str:
        """Tuples: one of one type, one of two."""
        return str(size)

    @app.tool
    def flag(enabled: bool, level: Literal[1, 2, 3] = 1) -> str:
        """A boolean and an integer Literal."""
        return str(enabled)

    @app.tool
    def lookup(key: int | str) -> str:
        """A union of two types: hidden from policies."""
        return str(key)

    return app


# A hand-written schema as low-level servers declare them (draft-07 `definitions`
# and 2020-12 `$defs` both appear in the wild; this one says draft 2020-12).
TRANSFER_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "$defs": {
        "Money": {
            "type": "object",
            "title": "Money",
            "properties": {
                "amount": {"type": "integer", "minimum": 1, "maximum": 10000},
                "currency": {"type": "string", "enum": ["EUR", "USD"]},
            },
            "required": ["amount", "currency"],
            "additionalProperties": False,
        },
        "Account": {
            "type": "object",
            "properties": {"iban": {"type": "string", "pattern": "^[A-Z]{2}[0-9]{2}[A-Z0-9]+$"}},
            "required": ["iban"],
        },
    },
    "properties": {
        "money": {"$ref": "#/$defs/Money"},
        "to": {"$ref": "#/$defs/Account"},
        "memo": {"anyOf": [{"type": "string", "maxLength": 140}, {"type": "null"}]},
        "when": {"type": "string", "format": "date-time"},
        "meta": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
    },
    "required": ["money", "to"],
    "additionalProperties": False,
}

LEGACY_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "definitions": {"Tag": {"type": "string", "enum": ["red", "green"]}},
    "properties": {"tags": {"type": "array", "items": {"$ref": "#/definitions/Tag"}}},
    "required": ["tags"],
}


def lowlevel_server() -> Server[Any]:
    """A server on the SDK's low-level `Server`, with hand-written input schemas."""

    async def list_tools(
        ctx: Any, params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(
            tools=[
                types.Tool(name="transfer", input_schema=TRANSFER_SCHEMA),
                types.Tool(name="tag", input_schema=LEGACY_SCHEMA),
            ]
        )

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        return types.CallToolResult(content=[types.TextContent(text="done")])

    return Server("bank", on_list_tools=list_tools, on_call_tool=call_tool)


def main() -> None:
    """Serve one of the two servers on 127.0.0.1:PORT until killed."""
    kind, port = sys.argv[1], int(sys.argv[2])
    app: Any
    if kind == "fastmcp":
        app = fastmcp_server().http_app(path="/mcp")
    else:
        app = lowlevel_server().streamable_http_app(streamable_http_path="/mcp")
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
