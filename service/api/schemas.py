"""Request and response bodies of the decision API (`POST /v1/decisions`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from service.api.mcp_fields import HeaderFields, check_meta, check_subscriptions, subscriptions_of
from service.engine.errors import HeaderMismatch
from service.engine.methods import LISTEN, REQUIRED_FIELDS
from service.engine.model import Action
from service.engine.revisions import received

NAME_PATTERN = r"^[A-Za-z0-9_.:@\-]+$"


class RequestFacts(BaseModel):
    """Facts about the MCP request that reach `context.request`."""

    model_config = ConfigDict(extra="forbid")

    source_ip: str | None = Field(default=None, max_length=64)
    session_id: str | None = Field(default=None, max_length=256)


class McpFields(BaseModel):
    """What a gateway copies from the MCP request as received (MCP 2026-07-28 and on)."""

    model_config = ConfigDict(extra="forbid")

    meta: dict[str, Any] | None = None  # params._meta
    headers: HeaderFields | None = None  # Mcp-Method, Mcp-Name, MCP-Protocol-Version

    @field_validator("meta")
    @classmethod
    def _bounded_meta(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return check_meta(value)


class McpRequestFields(McpFields):
    """The fields of one MCP request beyond method and target: `subscriptions` too."""

    subscriptions: dict[str, Any] | None = None  # subscriptions/listen: params.notifications

    @field_validator("subscriptions")
    @classmethod
    def _a_filter(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return check_subscriptions(value)

    @model_validator(mode="after")
    def _subscriptions_only_to_listen(self) -> McpRequestFields:
        if self.subscriptions is not None and getattr(self, "method", None) != LISTEN:
            raise ValueError(f"`subscriptions` is for {LISTEN} only")
        return self


class DecisionRequest(McpRequestFields):
    """One MCP request to decide: who (token or claims) and what."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "claims": {"sub": "alice", "groups": ["analyst"]},
                    "method": "tools/call",
                    "tool": "docs___search",
                    "arguments": {"query": "quarterly revenue"},
                }
            ]
        },
    )

    # An empty token is still a decision (deny `invalid_token`), so the gateway answers 401.
    token: str | None = Field(default=None, max_length=16384)
    claims: dict[str, Any] | None = None
    method: str = Field(min_length=1, max_length=128)
    tool: str | None = Field(default=None, min_length=1, max_length=128)
    arguments: dict[str, Any] | None = None
    uri: str | None = Field(default=None, max_length=4096)
    prompt: str | None = Field(default=None, max_length=256)
    gateway: str = Field(default="default", min_length=1, max_length=128, pattern=NAME_PATTERN)
    context: RequestFacts | None = None

    @model_validator(mode="after")
    def _one_identity_and_a_tool(self) -> DecisionRequest:
        if (self.token is None) == (self.claims is None):
            raise ValueError("give exactly one of `token` or `claims`")
        needed = REQUIRED_FIELDS.get(self.method)
        if needed and getattr(self, needed) is None:
            raise ValueError(f"`{needed}` is required for {self.method}")
        return self


class DecisionResponse(BaseModel):
    """The decision and its provenance."""

    decision: Literal["allow", "deny"]
    decision_id: str
    reasons: list[str]
    errors: list[str]
    code: str | None
    required_scopes: list[str]
    policy_version: str
    cached: bool


def to_action(
    fields: Any,
    context: RequestFacts | None,
    gateway: str,
    meta: dict[str, Any] | None,
    headers: HeaderFields | None,
) -> tuple[Action, HeaderMismatch | None]:
    """The engine's Action from a request's MCP fields (a decision or a batch item),
    and whether the headers passed disagree with it (decided before any cache)."""
    action = Action(
        method=fields.method,
        tool=fields.tool,
        arguments=fields.arguments,
        uri=fields.uri,
        prompt=fields.prompt,
        gateway=gateway,
        source_ip=context.source_ip if context else None,
        session_id=context.session_id if context else None,
        subscriptions=subscriptions_of(fields.subscriptions),
    )
    return received(action, meta, headers.engine() if headers else None)
