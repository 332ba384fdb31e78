"""The AgentCore Gateway interceptor contract (interceptorInputVersion 1.0, MCP targets).

Reading the event (headers, bearer token, JSON-RPC id) and building the two
answers a handler can give: pass the request on, or answer the client directly.
"""

from __future__ import annotations

import json
import logging
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
MAX_SESSION_ID = 256


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
