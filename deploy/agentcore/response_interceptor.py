"""AgentCore Gateway RESPONSE interceptor: show each user only the tools they may call.

A `tools/list` result, and the result of the gateway's semantic search tool
(`x_amz_bedrock_agentcore_search`, whose tools sit both in
`structuredContent.tools` and as JSON text in `content[].text`), is filtered by
`POST /v1/tools/filter`, asked afresh for every response (never cached). Other
responses pass unchanged. When the PDP cannot answer, the client gets a
JSON-RPC error -32603 instead of the unfiltered list.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import gateway_event as ge
from pdp_client import Config, PdpUnavailable, filter_tools

SEARCH_TOOL = "x_amz_bedrock_agentcore_search"


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Lambda entry point: configuration from the environment."""
    try:
        config = Config.from_env()
    except PdpUnavailable as exc:
        ge.log_event(logging.ERROR, "config_error", error=str(exc))
        config = None
    return handle(event, config)


def _is_search(request_body: Any) -> bool:
    if not isinstance(request_body, Mapping) or request_body.get("method") != "tools/call":
        return False
    params = request_body.get("params")
    name = params.get("name") if isinstance(params, Mapping) else None
    # Search may be addressed with a target prefix, as tools are (`Target___tool`).
    return isinstance(name, str) and (name == SEARCH_TOOL or name.endswith("___" + SEARCH_TOOL))


def _text_tools(block: Any) -> list[Any] | None:
    """The tools in a JSON text block (`{"tools": [...]}` or a bare array), else None."""
    if not isinstance(block, Mapping) or block.get("type") != "text":
        return None
    try:
        parsed = json.loads(block.get("text") or "")
    except (TypeError, ValueError):
        return None
    if isinstance(parsed, Mapping) and isinstance(parsed.get("tools"), list):
        return list(parsed["tools"])
    if isinstance(parsed, list) and all(isinstance(t, Mapping) and "name" in t for t in parsed):
        return parsed
    return None


def _names(tools: list[Any]) -> list[str]:
    names = [t.get("name") if isinstance(t, Mapping) else None for t in tools]
    if not all(isinstance(n, str) and n for n in names):
        raise PdpUnavailable("a listed tool has no name; refusing to pass the list unfiltered")
    return names  # type: ignore[return-value]


def _keep(tools: list[Any], allowed: set[str]) -> list[Any]:
    return [t for t in tools if t.get("name") in allowed]


def _filter_block(block: Any, allowed: set[str], withheld: set[str]) -> Any | None:
    """A content block with withheld tools removed; None drops the block."""
    tools = _text_tools(block)
    if tools is not None:
        parsed = json.loads(block["text"])
        if isinstance(parsed, list):
            return {**block, "text": json.dumps(_keep(tools, allowed))}
        return {**block, "text": json.dumps({**parsed, "tools": _keep(tools, allowed)})}
    text = block.get("text") if isinstance(block, Mapping) else None
    # Prose that names a withheld tool would leak it: drop that block.
    if isinstance(text, str) and any(name in text for name in withheld):
        return None
    return block


def _filtered(
    result: dict[str, Any], token: str, config: Config, search: bool, facts: dict[str, str]
) -> dict[str, Any]:
    """`result` with only the tools the PDP lists, in every place it carries tools."""
    structured = result.get("structuredContent")
    found: list[Any] = []
    if not search:
        found = list(result.get("tools") or [])
    else:
        if isinstance(structured, Mapping) and isinstance(structured.get("tools"), list):
            found += structured["tools"]
        for block in result.get("content") or []:
            found += _text_tools(block) or []
    names = _names(found)
    unique = list(dict.fromkeys(names))
    first = {name: tool for tool, name in reversed(list(zip(found, names, strict=True)))}
    ask: dict[str, Any] = {"token": token, "tools": [first[n] for n in unique]}
    ask["gateway"] = config.gateway
    if facts:
        ask["context"] = facts
    allowed = filter_tools(config, ask, unique)
    withheld = set(unique) - allowed
    if not search:
        return {**result, "tools": _keep(found, allowed)}
    out = dict(result)
    if isinstance(structured, Mapping) and isinstance(structured.get("tools"), list):
        out["structuredContent"] = {**structured, "tools": _keep(structured["tools"], allowed)}
    if isinstance(result.get("content"), list):
        blocks = (_filter_block(b, allowed, withheld) for b in result["content"])
        out["content"] = [b for b in blocks if b is not None]
    return out


def _passed(response: Mapping[str, Any], body: Any = None) -> dict[str, Any]:
    out = {k: v for k, v in response.items() if k in ("statusCode", "headers", "body")}
    out.setdefault("statusCode", 200)
    if body is not None:
        out["body"] = body
        # The body changed length; the gateway computes it again.
        headers = out.get("headers")
        if isinstance(headers, Mapping):
            out["headers"] = {k: v for k, v in headers.items() if k.lower() != "content-length"}
    return {"interceptorOutputVersion": ge.VERSION, "mcp": {"transformedGatewayResponse": out}}


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def handle(event: dict[str, Any], config: Config | None) -> dict[str, Any]:
    """Filter one gateway response's tools with the PDP described by `config`."""
    mcp = _mapping(event.get("mcp") if isinstance(event, Mapping) else None)
    request, response = _mapping(mcp.get("gatewayRequest")), _mapping(mcp.get("gatewayResponse"))
    request_body, body = request.get("body"), _mapping(response.get("body"))
    search = _is_search(request_body)
    listing = isinstance(request_body, Mapping) and request_body.get("method") == "tools/list"
    result = body.get("result")
    # Errors, short-circuited answers and every other method go back as they came.
    if not (listing or search) or not isinstance(result, dict) or result.get("isError"):
        return _passed(response)
    request_id = body.get("id")
    try:
        if config is None:
            raise PdpUnavailable("interceptor configuration is invalid")
        headers = request.get("headers")
        token = ge.bearer_token(headers)
        if token is None:
            raise PdpUnavailable("no bearer token in the event (is passRequestHeaders true?)")
        filtered = _filtered(result, token, config, search, ge.request_facts(headers))
    except PdpUnavailable as exc:
        ge.log_event(logging.ERROR, "filter_unavailable", search=search, error=str(exc))
        error = ge.rpc_error(request_id, ge.INTERNAL_ERROR, "authorization unavailable")
        return _passed({**response, "statusCode": 200}, error)
    return _passed(response, {**body, "result": filtered})
