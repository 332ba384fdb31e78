"""Bodies of `POST /v1/decisions/batch` and `POST /v1/tools/filter`."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from service.api.schemas import (
    NAME_PATTERN,
    DecisionResponse,
    McpFields,
    McpRequestFields,
    RequestFacts,
)
from service.engine.methods import REQUIRED_FIELDS


class _Who(McpFields):
    """One principal: a raw token or claims a trusted caller validated."""

    model_config = ConfigDict(extra="forbid")

    token: str | None = Field(default=None, min_length=1, max_length=16384)
    claims: dict[str, Any] | None = None
    gateway: str = Field(default="default", min_length=1, max_length=128, pattern=NAME_PATTERN)
    context: RequestFacts | None = None

    @model_validator(mode="after")
    def _one_identity(self) -> _Who:
        if (self.token is None) == (self.claims is None):
            raise ValueError("give exactly one of `token` or `claims`")
        return self


class BatchItem(McpRequestFields):
    """One request of a batch: what is asked; who asks is the batch's principal."""

    model_config = ConfigDict(extra="forbid")

    method: str = Field(min_length=1, max_length=128)
    tool: str | None = Field(default=None, min_length=1, max_length=128)
    arguments: dict[str, Any] | None = None
    uri: str | None = Field(default=None, max_length=4096)
    prompt: str | None = Field(default=None, max_length=256)
    gateway: str | None = Field(default=None, min_length=1, max_length=128, pattern=NAME_PATTERN)
    context: RequestFacts | None = None

    @model_validator(mode="after")
    def _required_field(self) -> BatchItem:
        needed = REQUIRED_FIELDS.get(self.method)
        if needed and getattr(self, needed) is None:
            raise ValueError(f"`{needed}` is required for {self.method}")
        return self


class BatchRequest(_Who):
    """One principal and its requests; `gateway`, `context`, `meta` and `headers` are the
    items' defaults."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "claims": {"sub": "bob", "scope": "tools:read"},
                    "requests": [
                        {
                            "method": "tools/call",
                            "tool": "docs___search",
                            "arguments": {"query": "q"},
                        },
                        {"method": "resources/read", "uri": "docs://public/handbook.md"},
                    ],
                }
            ]
        },
    )

    # Items are checked one by one: a malformed item is a deny, not a 422.
    requests: list[Any] = Field(min_length=1)


class BatchResponse(BaseModel):
    """One decision per request, in the order asked."""

    decisions: list[DecisionResponse]


class FilterRequest(_Who):
    """One principal and the tools a `tools/list` (or semantic search) returned."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "claims": {"sub": "alice"},
                    "tools": [{"name": "docs___search", "inputSchema": {"type": "object"}}],
                }
            ]
        },
    )

    tools: list[dict[str, Any]] | None = None
    result: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one_listing(self) -> FilterRequest:
        if (self.tools is None) == (self.result is None):
            raise ValueError("give exactly one of `tools` or `result`")
        return self


class WithheldTool(BaseModel):
    """Why a tool was withheld: a `code`, or the forbids that apply whatever the arguments."""

    name: str
    code: str | None
    reasons: list[str]


class FilterResponse(BaseModel):
    """The callable tools exactly as sent, the names withheld, and the filtered `result`."""

    tools: list[dict[str, Any]]
    withheld: list[str]
    details: list[WithheldTool]
    result: dict[str, Any] | None = None
    # The longest a client may cache this listing: `cache_ttl_seconds`, in ms.
    # A filtered `result`'s `ttlMs` is lowered to it.
    max_ttl_ms: int
    decision_id: str
    policy_version: str
