"""Tool listings in and out of `POST /v1/tools/filter`: where the tools are, and
the answer with the listed tools byte-for-byte as they came.

Two shapes are accepted: a `tools/list` result (`{"tools": [...]}`, or the bare
array as `tools`) and a semantic-search `tools/call` result, whose tools sit in
`structuredContent.tools` and, as JSON text, in `content`.

A filtered result is rebuilt from the listed tools, never edited: a withheld
name can hide anywhere (a summary field, a JSON escape, a resource or image
block), so whatever cannot be shown to be clean is dropped. What remains:
`tools` and `nextCursor` of a `tools/list` result; `structuredContent.tools`,
each text block that carried a tool list (now the listed tools only) and
`isError` of a search result.

A `tools/list` result of MCP 2026-07-28 says how it may be cached (`ttlMs`,
`cacheScope`). A filtered list is one user's, so it is always
`cacheScope: "private"` (no shared cache serves it to another user), and its
`ttlMs` is at most `max_ttl_ms`, how long the PDP itself reuses the answer.
The fields are written when the result has either of them or the request
says it is of 2026-07-28 or later; `resultType` is kept (and is "complete"
when absent on such a result).
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Sequence
from typing import Any

from service.api.bulk_schemas import FilterRequest
from service.api.errors import FieldError
from service.api.raw_json import array_items
from service.engine.revisions import is_stateless

RESULT_TYPES = frozenset({"complete", "input_required", "task"})  # core, and the tasks extension


def tools_path(body: FilterRequest) -> tuple[list[str], list[Any]]:
    """Where the tools are in the body, and the parsed tools; FieldError when absent."""
    if body.tools is not None:
        return ["tools"], body.tools
    result = body.result or {}
    if isinstance(result.get("tools"), list):
        return ["result", "tools"], result["tools"]
    structured = result.get("structuredContent")
    if isinstance(structured, dict) and isinstance(structured.get("tools"), list):
        return ["result", "structuredContent", "tools"], structured["tools"]
    raise FieldError("result", "expected `tools` or `structuredContent.tools` in the result")


def tool_names(path: Sequence[str], tools: list[Any], limit: int) -> list[str]:
    """Each tool's name; FieldError naming the first tool without one."""
    where = ".".join(path)
    if len(tools) > limit:
        raise FieldError(where, f"more than {limit} tools")
    names = []
    for index, tool in enumerate(tools):
        name = tool.get("name") if isinstance(tool, dict) else None
        if not isinstance(name, str) or not name:
            raise FieldError(f"{where}.{index}.name", "each tool needs a string `name`")
        names.append(name)
    return names


def raw_tools(raw_body: str, path: Sequence[str], tools: list[Any]) -> list[str]:
    """Each tool's text as sent; re-serialised only if the body cannot be walked."""
    items = array_items(raw_body, path)
    if items is None or len(items) != len(tools):
        return [json.dumps(t, ensure_ascii=False) for t in tools]
    return items


def _tool_list_text(block: Any, array: str) -> dict[str, str] | None:
    """A JSON text block holding a tool list, rebuilt around `array`; None for any other block."""
    if not isinstance(block, dict) or block.get("type") != "text":
        return None
    try:
        parsed = json.loads(block.get("text") or "")
    except (TypeError, ValueError):
        return None
    if isinstance(parsed, list):
        return {"type": "text", "text": array}
    if isinstance(parsed, dict) and isinstance(parsed.get("tools"), list):
        return {"type": "text", "text": '{"tools":' + array + "}"}
    return None


def cache_fields(result: dict[str, Any], version: str | None, max_ttl_ms: int) -> dict[str, Any]:
    """`resultType`, `ttlMs` and `cacheScope` of a filtered `tools/list` result (see above)."""
    out: dict[str, Any] = {}
    if result.get("resultType") in RESULT_TYPES:
        out["resultType"] = result["resultType"]
    if not ("ttlMs" in result or "cacheScope" in result or is_stateless(version)):
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
    result: dict[str, Any],
    path: Sequence[str],
    marker: str,
    array: str,
    cache: dict[str, Any],
) -> dict[str, Any]:
    """The filtered result: the listed tools (as `marker`) and nothing unproven."""
    if path[1] == "tools":
        out: dict[str, Any] = {"tools": marker}
        if isinstance(result.get("nextCursor"), str):
            out["nextCursor"] = result["nextCursor"]
        return {**out, **cache}
    out = {"structuredContent": {"tools": marker}}
    content = result.get("content")
    if isinstance(content, list):
        # Each text block that listed tools lists the listed tools; every other block goes.
        blocks = (_tool_list_text(block, array) for block in content)
        out["content"] = [block for block in blocks if block is not None]
    if isinstance(result.get("isError"), bool):
        out["isError"] = result["isError"]
    return out


def answer(
    body: FilterRequest,
    path: Sequence[str],
    listed_raw: list[str],
    fields: dict[str, Any],
    version: str | None = None,
) -> bytes:
    """The response body: listed tools as raw text, the rest serialised."""
    marker = f"__mcp_pdp_tools_{uuid.uuid4().hex}__"
    array = "[" + ",".join(listed_raw) + "]"
    document: dict[str, Any] = {"tools": marker, **fields}
    if body.result is not None:
        cache = cache_fields(body.result, version, fields["max_ttl_ms"])
        document["result"] = _rebuilt(body.result, path, marker, array, cache)
    text = json.dumps(document, ensure_ascii=False)
    return text.replace(json.dumps(marker), array).encode()
