"""The AgentCore Gateway interceptor contract (interceptorInputVersion 1.0, MCP targets).

Reading the event (headers, bearer token, JSON-RPC id) and building the two
answers a handler can give: pass the request on, or answer the client directly.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any

log = logging.getLogger("mcp_pdp.interceptor")

VERSION = "1.0"
# JSON-RPC error codes the interceptors answer with.
INVALID_REQUEST = -32600
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603  # the PDP could not decide: denied, never passed through
UNAUTHORIZED = -32001  # the HTTP 401/403 answers also carry a JSON-RPC body
POLICY_DENIED = -32003  # a policy denied a method other than tools/call
HEADER_MISMATCH = -32020  # MCP 2026-07-28: headers that disagree with the body (HTTP 400)
MAX_SESSION_ID = 256
# The MCP headers the PDP checks against the body, by their lower-case names.
MCP_HEADERS = ("mcp-protocol-version", "mcp-method", "mcp-name")
PROTOCOL_VERSION_KEY = "io.modelcontextprotocol/protocolVersion"
STATELESS = "2026-07-28"  # from this revision on, every request must send the MCP headers
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def header(headers: Any, name: str) -> str | None:
    """A request header by name, case-insensitively (HTTP header names are)."""
    if not isinstance(headers, Mapping):
        return None
    wanted = name.lower()
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == wanted and isinstance(value, str):
            return value
    return None


def bearer_token(headers: Any) -> str | None:
    """The token of `Authorization: Bearer <token>`, or None."""
    value = header(headers, "Authorization")
    if value is None:
        return None
    scheme, _, token = value.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        return None
    return token


def request_facts(headers: Any) -> dict[str, str]:
    """`context` for the PDP: the MCP session id when the client sent one."""
    session = header(headers, "Mcp-Session-Id")
    if session and len(session) <= MAX_SESSION_ID:
        return {"session_id": session}
    return {}


def request_meta(body: Any) -> dict[str, Any] | None:
    """The JSON-RPC request's `params._meta`, when it has one."""
    params = body.get("params") if isinstance(body, Mapping) else None
    meta = params.get("_meta") if isinstance(params, Mapping) else None
    return dict(meta) if isinstance(meta, Mapping) else None


def mcp_headers(headers: Any, meta: Mapping[str, Any] | None) -> dict[str, str] | None:
    """The MCP headers for the PDP, lower-case: those the client sent.

    None when it sent none and is of a revision before 2026-07-28 (nothing to
    check); `{}` when a 2026-07-28 request sent none, so the PDP refuses it.
    ValueError when one is given twice.
    """
    if isinstance(headers, Mapping):
        names = [k.lower() for k in headers if isinstance(k, str) and k.lower() in MCP_HEADERS]
        if len(names) != len(set(names)):
            # Two spellings of one header: a router may read the other one.
            raise ValueError("an MCP header is given twice")
    found = {name: value for name in MCP_HEADERS if (value := header(headers, name)) is not None}
    if found:
        return found
    return {} if is_stateless(meta.get(PROTOCOL_VERSION_KEY) if meta else None) else None


def is_stateless(version: Any) -> bool:
    """Whether `version` names MCP 2026-07-28 or a later revision (dates order as strings)."""
    return isinstance(version, str) and bool(_DATE.match(version)) and version >= STATELESS


def log_event(level: int, event: str, **fields: Any) -> None:
    """One JSON log line; callers pass no tokens, keys or argument values."""
    log.log(level, json.dumps({"event": event, **fields}, default=str))


def pass_request(request: Mapping[str, Any]) -> dict[str, Any]:
    """Let the request go on to the target, body unchanged.

    The client's `Authorization` header is left out of the headers handed back:
    the user's token was meant for the gateway, not for the target.
    """
    headers = request.get("headers")
    forwarded: dict[str, Any] = {"body": request.get("body")}
    if isinstance(headers, Mapping):
        forwarded["headers"] = {
            k: v for k, v in headers.items() if str(k).lower() != "authorization"
        }
    return {"interceptorOutputVersion": VERSION, "mcp": {"transformedGatewayRequest": forwarded}}


def answer(
    status: int, body: dict[str, Any] | None, headers: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Answer the client directly; `body` None sends none (notifications get no body)."""
    response: dict[str, Any] = {"statusCode": status, "headers": dict(headers or {})}
    if body is not None:
        response["headers"].setdefault("Content-Type", "application/json")
        response["body"] = body
    return {"interceptorOutputVersion": VERSION, "mcp": {"transformedGatewayResponse": response}}


def rpc_error(
    request_id: Any, code: int, message: str, data: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A JSON-RPC error response."""
    error: dict[str, Any] = {"code": code, "message": message}
    if data:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": request_id, "error": error}


def tool_error(request_id: Any, text: str) -> dict[str, Any]:
    """A tools/call result the agent reads as a failed call (as AgentCore Policy answers)."""
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "result": {"isError": True, "content": [{"type": "text", "text": text}]},
    }
