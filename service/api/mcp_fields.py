"""Fields a gateway copies from an MCP request as received: `meta`, `headers`, `subscriptions`.

Each is checked here, at the edge, so a malformed one is a 422 naming it:

- `meta`: `params._meta`, an object of at most `MAX_META_BYTES` (as JSON) and
  `MAX_META_DEPTH` levels; its revision and client name must be strings.
- `headers`: the MCP HTTP headers, lower-case names (`mcp-method`, `mcp-name`,
  `mcp-protocol-version`; no other), values printable ASCII as HTTP carries them.
- `subscriptions`: the `notifications` filter of `subscriptions/listen`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from service.engine.model import Subscriptions
from service.engine.revisions import McpHeaders, meta_facts
from service.engine.subscriptions import parse_filter

MAX_META_BYTES = 16_384
MAX_META_DEPTH = 8
HEADER_NAMES = ("mcp-method", "mcp-name", "mcp-protocol-version")
# What an HTTP field value carries: printable ASCII and spaces, no CR/LF. Names
# outside it travel base64-encoded (`=?base64?…?=`).
HEADER_VALUE = r"^[\x20-\x7E]*$"


def _depth(value: Any) -> int:
    """How many levels of objects and arrays `value` nests, walked without recursion."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, level = pending.pop()
        if isinstance(item, Mapping):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_META_DEPTH:
            return deepest
        pending.extend((child, level + 1) for child in children)
    return deepest


def check_meta(meta: dict[str, Any] | None) -> dict[str, Any] | None:
    """`meta` unchanged when it is bounded and well typed; ValueError saying what is wrong."""
    if meta is None:
        return None
    if _depth(meta) > MAX_META_DEPTH:
        raise ValueError(f"nests more than {MAX_META_DEPTH} levels")
    if len(json.dumps(meta, ensure_ascii=False).encode()) > MAX_META_BYTES:
        raise ValueError(f"is larger than {MAX_META_BYTES} bytes as JSON")
    meta_facts(meta)  # the revision and client name must be strings
    return meta


def check_subscriptions(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """`value` unchanged when it is a valid subscription filter; ValueError otherwise."""
    if value is not None:
        parse_filter(value)
    return value


def subscriptions_of(value: dict[str, Any] | None) -> Subscriptions | None:
    """The engine's Subscriptions of a checked filter."""
    return parse_filter(value) if value is not None else None


class HeaderFields(BaseModel):
    """The MCP HTTP headers the gateway received, as received."""

    model_config = ConfigDict(extra="forbid")

    mcp_method: str | None = Field(
        default=None, alias="mcp-method", max_length=128, pattern=HEADER_VALUE
    )
    # A 4096-character URI, base64-encoded, fits.
    mcp_name: str | None = Field(
        default=None, alias="mcp-name", max_length=8192, pattern=HEADER_VALUE
    )
    mcp_protocol_version: str | None = Field(
        default=None, alias="mcp-protocol-version", max_length=64, pattern=HEADER_VALUE
    )

    @model_validator(mode="before")
    @classmethod
    def _lower_case_names(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            for key in value:
                if isinstance(key, str) and key != key.lower() and key.lower() in HEADER_NAMES:
                    raise ValueError(f"header names are lower-case: `{key.lower()}`, not `{key}`")
        return value

    def engine(self) -> McpHeaders:
        """The engine's McpHeaders."""
        return McpHeaders(
            method=self.mcp_method,
            name=self.mcp_name,
            protocol_version=self.mcp_protocol_version,
        )
