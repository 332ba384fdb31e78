"""The engine's inputs and output: plain values, no framework types."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TokenInfo:
    """What `context.token` says about the call."""

    scopes: frozenset[str] = frozenset()
    client_id: str = ""
    issuer: str = ""
    audience: str = ""
    expires_at: int = 0


@dataclass(frozen=True)
class Principal:
    """The user behind a request, as identity resolved it from claims."""

    id: str
    attributes: Mapping[str, Any] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    roles: frozenset[str] = frozenset()  # mapped from a groups claim
    token: TokenInfo = field(default_factory=TokenInfo)


@dataclass(frozen=True)
class StoredPrincipal:
    """What the database holds for a principal: unexpired roles, attributes, role graph."""

    roles: frozenset[str] = frozenset()
    attributes: Mapping[str, Any] = field(default_factory=dict)
    role_parents: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # The earliest `expires_at` (epoch s) among the unexpired roles: from then on
    # these facts are out of date even if nothing is written.
    roles_valid_until: float | None = None


@dataclass(frozen=True)
class Subscriptions:
    """The `notifications` filter of a `subscriptions/listen` request (MCP 2026-07-28)."""

    tools_list_changed: bool = False
    prompts_list_changed: bool = False
    resources_list_changed: bool = False
    resource_uris: tuple[str, ...] = ()


@dataclass(frozen=True)
class Action:
    """One MCP request, reduced to what Cedar needs.

    Only what a decision depends on belongs here: every field is part of the
    decision cache key (cache/digest.py). So a request's `_meta` is not kept
    whole (its progress token and trace context differ on every request), only
    the revision and client name read from it.
    """

    method: str
    tool: str | None = None
    arguments: Mapping[str, Any] | None = None
    uri: str | None = None
    prompt: str | None = None
    gateway: str = "default"
    source_ip: str | None = None
    session_id: str | None = None
    protocol_version: str | None = None  # `_meta`'s, else the MCP-Protocol-Version header's
    client_name: str | None = None  # `_meta` clientInfo.name: self-reported
    subscriptions: Subscriptions | None = None  # subscriptions/listen only


@dataclass(frozen=True)
class ShadowEffect:
    """What the decision would have been with `@mode("shadow")` policies enforced."""

    allowed: bool
    policies: tuple[str, ...]  # the shadow policies among the would-be reasons

    @property
    def verdict(self) -> str:
        """`allow` or `deny`, as answers and logs spell it."""
        return "allow" if self.allowed else "deny"


@dataclass(frozen=True)
class Decision:
    """The answer, with its provenance."""

    allowed: bool
    policy_version: str
    reasons: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    code: str | None = None
    required_scopes: tuple[str, ...] = ()
    shadow: ShadowEffect | None = None

    @property
    def verdict(self) -> str:
        """`allow` or `deny`, as answers and logs spell it."""
        return "allow" if self.allowed else "deny"

    @classmethod
    def deny(cls, code: str, message: str, policy_version: str) -> Decision:
        """A deny that is not a policy's verdict."""
        return cls(False, policy_version, errors=(message,), code=code)
