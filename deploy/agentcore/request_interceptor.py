"""AgentCore Gateway REQUEST interceptor: ask mcp-pdp before any MCP request reaches a target.

allow -> the request goes on unchanged. deny -> answered here: a tools/call gets a
result with `isError: true` and the reason, other methods a JSON-RPC error; an
invalid or expired token gets HTTP 401, a missing scope HTTP 403
`insufficient_scope`, each with `WWW-Authenticate`; MCP headers that disagree
with the body (`header_mismatch`) get HTTP 400 with JSON-RPC error -32020, as
MCP 2026-07-28 answers it. Notifications are decided too and never answered
with a body. The PDP unreachable, slow or answering nonsense -> denied with
JSON-RPC error -32603 (HTTP 503 for a notification).

The PDP is sent the request's `params._meta` (`meta`) and the MCP headers
(`headers`: MCP-Protocol-Version, Mcp-Method, Mcp-Name) when the request has
them, so it can check them against the body: the gateway forwards the headers
too, and a target that routes on them must see the call that was decided.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

import gateway_event as ge
from pdp_client import Config, PdpUnavailable, decide

TOKEN_CODES = {
    "invalid_token": "The access token is invalid",
    "token_expired": "The access token expired",
}
CODE_TEXT = {
    "no_policy": "no policy permits it",
    "unknown_tool": "the tool is not registered with the policy service",
    "unknown_method": "this method is not allowed",
    "invalid_arguments": "the arguments do not fit the tool's input schema",
    "evaluation_error": "the policies could not be evaluated",
    "store_unavailable": "the policy service could not read its role database",
    "header_mismatch": "the MCP headers disagree with the request body",
}
SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")  # RFC 6749 scope-token
# Which `params` field the PDP needs for a method, and the decision field it fills.
PARAM_FIELDS = {
    "tools/call": ("name", "tool"),
    "resources/read": ("uri", "uri"),
    "resources/subscribe": ("uri", "uri"),
    "resources/unsubscribe": ("uri", "uri"),
    "prompts/get": ("name", "prompt"),
}


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Lambda entry point: configuration from the environment."""
    try:
        config = Config.from_env()
    except PdpUnavailable as exc:
        ge.log_event(logging.ERROR, "config_error", error=str(exc))
        return _unavailable(_message(event))
    return handle(event, config)


def _message(event: Any) -> dict[str, Any]:
    try:
        request = event["mcp"]["gatewayRequest"]
        return request if isinstance(request, dict) else {}
    except (KeyError, TypeError):
        return {}


def _unavailable(request: Mapping[str, Any]) -> dict[str, Any]:
    body = request.get("body")
    if isinstance(body, dict) and "id" not in body:
        return ge.answer(503, None)
    request_id = body.get("id") if isinstance(body, dict) else None
    return ge.answer(200, ge.rpc_error(request_id, ge.INTERNAL_ERROR, "authorization unavailable"))


def _challenge(config: Config, **params: str) -> dict[str, str]:
    """`WWW-Authenticate: Bearer …` with the protected resource metadata when configured."""
    if config.resource_metadata:
        params["resource_metadata"] = config.resource_metadata
    pairs = ", ".join(f'{k}="{v}"' for k, v in params.items())
    return {"WWW-Authenticate": f"Bearer {pairs}" if pairs else "Bearer"}


def _decision_request(token: str, body: Mapping[str, Any], config: Config, headers: Any) -> Any:
    """The `POST /v1/decisions` body, or an error message for malformed params."""
    method = body["method"]
    request: dict[str, Any] = {"token": token, "method": method, "gateway": config.gateway}
    facts = ge.request_facts(headers)
    if facts:
        request["context"] = facts
    params = body.get("params", {})
    if not isinstance(params, Mapping):
        return "params must be an object"
    if "_meta" in params and not isinstance(params["_meta"], Mapping):
        return "params._meta must be an object"
    meta = ge.request_meta(body)
    if meta is not None:
        request["meta"] = meta
    mcp_headers = ge.mcp_headers(headers, meta)  # ValueError: handled by the caller
    if mcp_headers is not None:
        request["headers"] = mcp_headers
    if method == "subscriptions/listen":
        if not isinstance(params.get("notifications"), Mapping):
            return "params.notifications must be an object"
        request["subscriptions"] = params["notifications"]
    if method in PARAM_FIELDS:
        name, field = PARAM_FIELDS[method]
        value = params.get(name)
        if not isinstance(value, str) or not value:
            return f"params.{name} must be a non-empty string"
        request[field] = value
    if method == "tools/call" and "arguments" in params:
        if not isinstance(params["arguments"], Mapping):
            return "params.arguments must be an object"
        request["arguments"] = params["arguments"]
    return request


def _deny_text(decision: Mapping[str, Any], what: str) -> str:
    code = decision.get("code")
    why = CODE_TEXT.get(code or "") or (
        "denied by " + ", ".join(decision["reasons"]) if decision["reasons"] else "denied"
    )
    if code == "invalid_arguments" and decision.get("errors"):
        why += ": " + "; ".join(decision["errors"])
    return f"Access denied: {what}: {why} (decision {decision['decision_id']})"


def _denied(decision: Mapping[str, Any], body: Mapping[str, Any], config: Config) -> dict[str, Any]:
    """The answer for a deny: 401, 403 insufficient_scope, or a JSON-RPC denial."""
    is_notification = "id" not in body
    request_id = body.get("id")
    code = decision.get("code")
    if code in TOKEN_CODES:
        headers = _challenge(config, error="invalid_token", error_description=TOKEN_CODES[code])
        rpc = ge.rpc_error(request_id, ge.UNAUTHORIZED, TOKEN_CODES[code])
        return ge.answer(401, None if is_notification else rpc, headers)
    scopes = [s for s in decision.get("required_scopes", []) if SCOPE_TOKEN.match(s)]
    if scopes:
        scope = " ".join(scopes)
        headers = _challenge(config, error="insufficient_scope", scope=scope)
        message = f"Insufficient scope: this request needs a token with scope {scope!r}"
        rpc = ge.rpc_error(request_id, ge.UNAUTHORIZED, message, {"scope": scope})
        return ge.answer(403, None if is_notification else rpc, headers)
    if code == "header_mismatch":
        message = "Header mismatch: the MCP headers disagree with the request body"
        rpc = ge.rpc_error(request_id, ge.HEADER_MISMATCH, message)
        return ge.answer(400, None if is_notification else rpc)
    if is_notification:
        return ge.answer(403, None)
    method = body["method"]
    if method == "tools/call":
        tool = body["params"]["name"]
        return ge.answer(200, ge.tool_error(request_id, _deny_text(decision, f"tool {tool}")))
    data = {"decision_id": decision["decision_id"], "code": code, "reasons": decision["reasons"]}
    message = _deny_text(decision, method)
    return ge.answer(200, ge.rpc_error(request_id, ge.POLICY_DENIED, message, data))


def handle(event: dict[str, Any], config: Config) -> dict[str, Any]:
    """Decide one gateway request with the PDP described by `config`."""
    request = _message(event)
    body = request.get("body")
    if not isinstance(body, dict) or not isinstance(body.get("method"), str):
        # A batch, or not JSON-RPC at all: nothing the PDP could decide.
        request_id = body.get("id") if isinstance(body, dict) else None
        return ge.answer(200, ge.rpc_error(request_id, ge.INVALID_REQUEST, "invalid request"))
    headers = request.get("headers")
    if headers is None:
        ge.log_event(logging.ERROR, "no_headers", hint="set passRequestHeaders: true")
    token = ge.bearer_token(headers)
    if token is None:
        rpc = ge.rpc_error(
            body.get("id"), ge.UNAUTHORIZED, "Authorization: Bearer <token> required"
        )
        return ge.answer(401, None if "id" not in body else rpc, _challenge(config))
    try:
        decision_request = _decision_request(token, body, config, headers)
    except ValueError as exc:  # a routing header given twice
        rpc = ge.rpc_error(body.get("id"), ge.HEADER_MISMATCH, f"Header mismatch: {exc}")
        return ge.answer(400, None if "id" not in body else rpc)
    if isinstance(decision_request, str):
        if "id" not in body:
            return ge.answer(400, None)
        return ge.answer(200, ge.rpc_error(body["id"], ge.INVALID_PARAMS, decision_request))
    try:
        decision = decide(config, decision_request)
    except PdpUnavailable as exc:
        ge.log_event(logging.ERROR, "pdp_unavailable", method=body["method"], error=str(exc))
        return _unavailable(request)
    ge.log_event(
        logging.INFO,
        "decision",
        method=body["method"],
        tool=decision_request.get("tool"),
        decision=decision["decision"],
        code=decision.get("code"),
        decision_id=decision["decision_id"],
    )
    if decision["decision"] == "allow":
        return ge.pass_request(request)
    return _denied(decision, body, config)
