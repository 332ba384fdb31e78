"""MCP protocol revisions: which one a request speaks, and whether its HTTP headers tell the truth.

mcp-pdp serves 2025-06-18, 2025-11-25 and 2026-07-28 side by side. A request of
2026-07-28 carries its revision in `params._meta`
(`io.modelcontextprotocol/protocolVersion`); every revision since 2025-06-18 also
sends it in the `MCP-Protocol-Version` HTTP header. Policies read it as
`context.request.protocol_version` (a String) and, because Cedar cannot order
strings, as `context.request.protocol_revision` (a Long, `2026-07-28` →
20260728). The client's name (`_meta` `io.modelcontextprotocol/clientInfo`.name)
is `context.request.client_name`: the client says it about itself, so it is for
logs and soft rules, never a security boundary.

On Streamable HTTP, 2026-07-28 mirrors the body in headers (`Mcp-Method`,
`Mcp-Name`) so gateways can route without parsing it. A gateway that routes on
headers must not authorize one call and forward another, so when the gateway
passes the headers it received, they are checked against the body:

- `MCP-Protocol-Version` must equal `_meta`'s revision;
- `Mcp-Method` must equal the method;
- `Mcp-Name` must equal the tool (`tools/call`), the prompt (`prompts/get`) or
  the URI (`resources/read`), after decoding its `=?base64?…?=` form.

A request of 2026-07-28 or later must send all three (`Mcp-Name` only on those
three methods); an older one need send none, but what it sends must agree. Any
disagreement or omission is a deny with `header_mismatch`.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from service.engine.errors import HeaderMismatch
from service.engine.model import Action

REVISIONS = ("2025-06-18", "2025-11-25", "2026-07-28")
LATEST = REVISIONS[-1]
STATELESS = 20260728  # the first revision with `_meta` envelopes and Mcp-Method/Mcp-Name
PROTOCOL_VERSION_KEY = "io.modelcontextprotocol/protocolVersion"
CLIENT_INFO_KEY = "io.modelcontextprotocol/clientInfo"
MAX_VERSION = 64
MAX_CLIENT_NAME = 256
# Which Action field the Mcp-Name header mirrors, per method.
NAME_BEARING = {"tools/call": "tool", "prompts/get": "prompt", "resources/read": "uri"}
LISTING_METHODS = ("tools/list", "tools/call")  # a tools/list, or a semantic search call
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_BASE64 = re.compile(r"^=\?base64\?(.*)\?=$", re.S)


def revision_number(version: str | None) -> int | None:
    """`2026-07-28` → 20260728, which policies can compare; None for any other spelling."""
    match = _DATE.match(version or "")
    return int("".join(match.groups())) if match else None


@dataclass(frozen=True)
class MetaFacts:
    """What a decision takes from a request's `params._meta`."""

    protocol_version: str | None = None
    client_name: str | None = None


def meta_facts(meta: Mapping[str, Any] | None) -> MetaFacts:
    """The revision and client name in `_meta`; ValueError naming the key when mistyped."""
    if not meta:
        return MetaFacts()
    version = meta.get(PROTOCOL_VERSION_KEY)
    if version is not None and (not isinstance(version, str) or len(version) > MAX_VERSION):
        raise ValueError(f"`{PROTOCOL_VERSION_KEY}` must be a string of at most {MAX_VERSION}")
    info = meta.get(CLIENT_INFO_KEY)
    if info is not None and not isinstance(info, Mapping):
        raise ValueError(f"`{CLIENT_INFO_KEY}` must be an object")
    name = info.get("name") if info else None
    if name is not None and (not isinstance(name, str) or len(name) > MAX_CLIENT_NAME):
        raise ValueError(f"`{CLIENT_INFO_KEY}.name` must be a string of at most {MAX_CLIENT_NAME}")
    return MetaFacts(version, name)


@dataclass(frozen=True)
class McpHeaders:
    """The MCP HTTP headers a gateway received, as sent (None: absent)."""

    method: str | None = None
    name: str | None = None
    protocol_version: str | None = None


def protocol_version(meta: MetaFacts, headers: McpHeaders | None) -> str | None:
    """The request's revision: `_meta`'s, else the header's."""
    if meta.protocol_version is not None:
        return meta.protocol_version
    return headers.protocol_version if headers else None


def revision_facts(version: str | None, client_name: str | None) -> dict[str, Any]:
    """`context.request` facts about the revision and the client; unknown ones are left out."""
    facts: dict[str, Any] = {}
    if version is not None:
        facts["protocol_version"] = version
        number = revision_number(version)
        if number is not None:
            facts["protocol_revision"] = number
    if client_name is not None:
        facts["client_name"] = client_name
    return facts


def decode_header_value(value: str) -> str | None:
    """A header value with its `=?base64?…?=` form decoded; None when that form is malformed."""
    match = _BASE64.match(value)
    if match is None:
        return value
    payload = match.group(1)
    try:
        decoded = base64.b64decode(payload, validate=True)
        # Only the canonical spelling: two spellings of one name are two names to a router.
        if base64.b64encode(decoded).decode("ascii") != payload:
            return None
        return decoded.decode("utf-8")
    except (binascii.Error, ValueError):
        return None


def _stateless(version: str | None) -> bool:
    number = revision_number(version)
    return number is not None and number >= STATELESS


def _check_version(version: str | None, headers: McpHeaders) -> bool:
    """Check the version header; whether the request is of a stateless revision."""
    if headers.protocol_version is not None and headers.protocol_version != version:
        raise HeaderMismatch("MCP-Protocol-Version disagrees with the request's _meta")
    stateless = _stateless(version)
    if stateless and headers.protocol_version is None:
        raise HeaderMismatch(f"a request of {version} must send MCP-Protocol-Version")
    return stateless


def check_headers(action: Action, headers: McpHeaders) -> None:
    """Raise HeaderMismatch when the headers disagree with the body, or lack one they need."""
    stateless = _check_version(action.protocol_version, headers)
    if headers.method is None:
        if stateless:
            raise HeaderMismatch(f"a request of {action.protocol_version} must send Mcp-Method")
    elif headers.method != action.method:
        raise HeaderMismatch("Mcp-Method names another method than the body")
    field = NAME_BEARING.get(action.method)
    if field is None:
        return  # Mcp-Name is defined for the three name-bearing methods only
    if headers.name is None:
        if stateless:
            raise HeaderMismatch(f"a request of {action.protocol_version} must send Mcp-Name")
        return
    if decode_header_value(headers.name) != getattr(action, field):
        raise HeaderMismatch(f"Mcp-Name names another {field} than the body")


def check_listing_headers(version: str | None, headers: McpHeaders) -> None:
    """The headers of the request whose result is a tool listing (`tools/list` or a search)."""
    stateless = _check_version(version, headers)
    if headers.method is None:
        if stateless:
            raise HeaderMismatch(f"a request of {version} must send Mcp-Method")
    elif headers.method not in LISTING_METHODS:
        raise HeaderMismatch("Mcp-Method names a method whose result lists no tools")


def received(
    action: Action, meta: Mapping[str, Any] | None, headers: McpHeaders | None
) -> tuple[Action, HeaderMismatch | None]:
    """`action` with the revision and client its `_meta` and headers name, and the
    headers' disagreement with it, if any (None when no headers were passed).

    ValueError for a mistyped `_meta`. Only these two facts of `_meta` reach the
    action: the rest (progress token, trace context) differs per request and
    would only split the decision cache.
    """
    facts = meta_facts(meta)
    action = replace(
        action, protocol_version=protocol_version(facts, headers), client_name=facts.client_name
    )
    if headers is None:
        return action, None
    try:
        check_headers(action, headers)
    except HeaderMismatch as exc:
        return action, exc
    return action, None


def listing_received(
    meta: Mapping[str, Any] | None, headers: McpHeaders | None
) -> tuple[str | None, dict[str, Any], HeaderMismatch | None]:
    """For the request whose result is a tool listing: its revision, its `context.request`
    facts, and its headers' disagreement with it, if any."""
    facts = meta_facts(meta)
    version = protocol_version(facts, headers)
    mismatch = None
    if headers is not None:
        try:
            check_listing_headers(version, headers)
        except HeaderMismatch as exc:
            mismatch = exc
    return version, revision_facts(version, facts.client_name), mismatch


def is_stateless(version: str | None) -> bool:
    """Whether `version` names 2026-07-28 or a later revision."""
    return _stateless(version)
