"""AgentCore Gateway RESPONSE interceptor: show each user only the tools they may call.

Two kinds of result carry tools: a `tools/list` result, and the result of the
gateway's semantic search tool (`x_amz_bedrock_agentcore_search`, whose tools
sit both in `structuredContent.tools` and as JSON text in `content[].text`).
The request tells which it is; a result with a `tools` member is a listing
whatever the request, and without a readable request a `structuredContent.tools`
or a text block listing tools marks a search result. `isError` exempts nothing.

Each is filtered by `POST /v1/tools/filter`, asked afresh for every response
(never cached), and rebuilt from the listed tools: everything that cannot be
shown to be clean is dropped (docs/mcp.md lists what is kept). A result that
carries tools but cannot be filtered (the PDP does not answer, a tool without
a name, a malformed result) becomes JSON-RPC error -32603, never the original.
Other responses pass unchanged.

A filtered `tools/list` result is one user's: when it says how it may be
cached (`ttlMs`, `cacheScope`, MCP 2026-07-28) or its request is of 2026-07-28,
it leaves as `cacheScope: "private"` with a `ttlMs` no longer than the PDP's
`max_ttl_ms`, so no shared cache serves it to another user.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from typing import Any, Literal

import gateway_event as ge
from pdp_client import Config, PdpUnavailable, filter_tools

SEARCH_TOOL = "x_amz_bedrock_agentcore_search"
RESULT_TYPES = frozenset({"complete", "input_required", "task"})
Kind = Literal["list", "search"]


class Unfilterable(Exception):
    """A result that carries tools in a form the filter cannot take apart."""


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Lambda entry point: configuration from the environment."""
    try:
        config = Config.from_env()
    except PdpUnavailable as exc:
        ge.log_event(logging.ERROR, "config_error", error=str(exc))
        config = None
    return handle(event, config)


def _is_search(request_body: Mapping[str, Any]) -> bool:
    if request_body.get("method") != "tools/call":
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


def _looks_like_search(result: Mapping[str, Any]) -> bool:
    structured = result.get("structuredContent")
    if isinstance(structured, Mapping) and "tools" in structured:
        return True
    content = result.get("content")
    return isinstance(content, list) and any(_text_tools(b) is not None for b in content)


def _kind(request_body: Any, body: Mapping[str, Any]) -> Kind | None:
    """Which kind of tool-carrying result `body` holds; None when it carries none."""
    if "result" not in body:
        return None  # a JSON-RPC error, or no answer: no tools to show
    result = body["result"]
    method = request_body.get("method") if isinstance(request_body, Mapping) else None
    if method == "tools/list" or (isinstance(result, Mapping) and "tools" in result):
        return "list"
    if isinstance(method, str):  # the request says what the result is
        return "search" if _is_search(request_body) else None
    return "search" if isinstance(result, Mapping) and _looks_like_search(result) else None


def _names(tools: list[Any]) -> list[str]:
    names = [t.get("name") if isinstance(t, Mapping) else None for t in tools]
    if not all(isinstance(n, str) and n for n in names):
        raise Unfilterable("a listed tool has no name")
    return names  # type: ignore[return-value]


def _keep(tools: list[Any], allowed: set[str]) -> list[Any]:
    return [t for t in tools if t.get("name") in allowed]


def _structured_tools(result: Mapping[str, Any]) -> list[Any] | None:
    structured = result.get("structuredContent")
    if not isinstance(structured, Mapping) or "tools" not in structured:
        return None
    if not isinstance(structured["tools"], list):
        raise Unfilterable("structuredContent.tools is not an array")
    return list(structured["tools"])


def _found(kind: Kind, result: Mapping[str, Any]) -> list[Any]:
    """Every tool the result carries, in every place it carries them."""
    if kind == "list":
        if not isinstance(result.get("tools"), list):
            raise Unfilterable("`tools` is not an array")
        return list(result["tools"])
    found = list(_structured_tools(result) or [])
    content = result.get("content")
    for block in content if isinstance(content, list) else []:
        found += _text_tools(block) or []
    return found


def _allowed(
    found: list[Any], token: str, config: Config, request: Mapping[str, Any]
) -> tuple[set[str], int]:
    """The names among `found` the PDP lists for this user, and the listing's longest TTL."""
    names = _names(found)
    unique = list(dict.fromkeys(names))
    if not unique:
        return set(), 0
    first = {name: tool for tool, name in reversed(list(zip(found, names, strict=True)))}
    ask: dict[str, Any] = {"token": token, "tools": [first[n] for n in unique]}
    ask["gateway"] = config.gateway
    headers = request.get("headers")
    facts = ge.request_facts(headers)
    if facts:
        ask["context"] = facts
    meta = ge.request_meta(request.get("body"))
    if meta is not None:
        ask["meta"] = meta
    try:
        mcp_headers = ge.mcp_headers(headers, meta)
    except ValueError as exc:
        raise Unfilterable(str(exc)) from exc
    if mcp_headers is not None:
        ask["headers"] = mcp_headers
    return filter_tools(config, ask, unique)


def _cache_fields(
    result: Mapping[str, Any], request: Mapping[str, Any], max_ttl_ms: int
) -> dict[str, Any]:
    """`resultType`, `ttlMs` and `cacheScope` of a filtered list: private, bounded by the PDP."""
    out: dict[str, Any] = {}
    if result.get("resultType") in RESULT_TYPES:
        out["resultType"] = result["resultType"]
    meta = ge.request_meta(request.get("body"))
    version = ge.header(request.get("headers"), "mcp-protocol-version")
    version = (meta or {}).get(ge.PROTOCOL_VERSION_KEY, version)
    if not (ge.is_stateless(version) or "ttlMs" in result or "cacheScope" in result):
        return out
    ttl = result.get("ttlMs")
    # Absent, negative or not a number: 0, as MCP reads it (stale at once).
    if isinstance(ttl, int | float) and not isinstance(ttl, bool) and math.isfinite(ttl):
        out["ttlMs"] = min(max(int(ttl), 0), max_ttl_ms)
    else:
        out["ttlMs"] = 0
    out["cacheScope"] = "private"
    out.setdefault("resultType", "complete")
    return out


def _rebuilt(
    kind: Kind, result: Mapping[str, Any], allowed: set[str], cache: dict[str, Any]
) -> dict[str, Any]:
    """The result made again from the allowed tools; nothing else of it survives."""
    if kind == "list":
        out: dict[str, Any] = {"tools": _keep(result["tools"], allowed)}
        if isinstance(result.get("nextCursor"), str):
            out["nextCursor"] = result["nextCursor"]
        return {**out, **cache}
    out = {}
    structured = _structured_tools(result)
    if structured is not None:
        out["structuredContent"] = {"tools": _keep(structured, allowed)}
    content = result.get("content")
    if isinstance(content, list):
        out["content"] = []
        for block in content:  # a text block that listed tools lists the kept ones; others go
            tools = _text_tools(block)
            if tools is None:
                continue
            parsed = json.loads(block["text"])
            kept = _keep(tools, allowed)
            text = json.dumps(kept if isinstance(parsed, list) else {"tools": kept})
            out["content"].append({"type": "text", "text": text})
    if isinstance(result.get("isError"), bool):
        out["isError"] = result["isError"]
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
    body = _mapping(response.get("body"))
    kind = _kind(request.get("body"), body)
    if kind is None:
        return _passed(response)
    try:
        result = body["result"]
        if not isinstance(result, Mapping):
            raise Unfilterable("the result is not an object")
        found = _found(kind, result)
        if config is None:
            raise PdpUnavailable("interceptor configuration is invalid")
        headers = request.get("headers")
        token = ge.bearer_token(headers)
        if token is None:
            raise PdpUnavailable("no bearer token in the event (is passRequestHeaders true?)")
        allowed, max_ttl_ms = _allowed(found, token, config, request)
        cache = _cache_fields(result, request, max_ttl_ms) if kind == "list" else {}
        filtered = _rebuilt(kind, result, allowed, cache)
    except (PdpUnavailable, Unfilterable) as exc:
        ge.log_event(logging.ERROR, "filter_unavailable", kind=kind, error=str(exc))
        error = ge.rpc_error(body.get("id"), ge.INTERNAL_ERROR, "authorization unavailable")
        return _passed({**response, "statusCode": 200}, error)
    return _passed(response, {**body, "result": filtered})
