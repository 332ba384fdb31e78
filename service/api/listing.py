"""Tool listings in and out of `POST /v1/tools/filter`: where the tools are, and
the answer with the listed tools byte-for-byte as they came.

Two shapes are accepted: a `tools/list` result (`{"tools": [...]}`, or the bare
array as `tools`) and a semantic-search `tools/call` result, whose tools sit in
`structuredContent.tools` and, as JSON text, in `content`. Text blocks are
filtered too: a JSON text block gets the same tools removed, and a non-JSON
text block naming a withheld tool is dropped, so nothing withheld leaks there.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

from service.api.bulk_schemas import FilterRequest
from service.api.limits import FieldError
from service.api.raw_json import array_items


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


def _filter_text(block: Any, keep: set[str], withheld: set[str]) -> Any | None:
    if not isinstance(block, dict) or block.get("type") != "text":
        return block
    text = block.get("text")
    if not isinstance(text, str):
        return block
    try:
        parsed = json.loads(text)
    except ValueError:
        return None if any(name in text for name in withheld) else block
    if isinstance(parsed, dict) and isinstance(parsed.get("tools"), list):
        parsed["tools"] = [
            t for t in parsed["tools"] if isinstance(t, dict) and t.get("name") in keep
        ]
        return {**block, "text": json.dumps(parsed, ensure_ascii=False)}
    return None if any(name in text for name in withheld) else block


def answer(
    body: FilterRequest,
    path: Sequence[str],
    listed_raw: list[str],
    keep: set[str],
    fields: dict[str, Any],
) -> bytes:
    """The response body: listed tools as raw text, the rest serialised."""
    marker = f"__mcp_pdp_tools_{uuid.uuid4().hex}__"
    array = "[" + ",".join(listed_raw) + "]"
    document: dict[str, Any] = {"tools": marker, **fields}
    if body.result is not None:
        result = dict(body.result)
        if path[1] == "tools":
            result["tools"] = marker
        else:
            result["structuredContent"] = {**result["structuredContent"], "tools": marker}
            withheld = set(fields["withheld"])
            if isinstance(result.get("content"), list):
                blocks = (_filter_text(b, keep, withheld) for b in result["content"])
                result["content"] = [b for b in blocks if b is not None]
        document["result"] = result
    text = json.dumps(document, ensure_ascii=False)
    return text.replace(json.dumps(marker), array).encode()
