"""Places a withheld tool's name can hide in a search or `tools/list` result, and a
deep search that finds it however it is encoded."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any


def mentions(value: Any, name: str) -> bool:
    """Whether `name` appears in `value`: in any string, in JSON inside a string
    (whatever its escaping), or in base64 data."""
    if isinstance(value, dict):
        return any(mentions(k, name) or mentions(v, name) for k, v in value.items())
    if isinstance(value, list):
        return any(mentions(item, name) for item in value)
    if not isinstance(value, str):
        return False
    if name in value:
        return True
    try:
        inner = json.loads(value)
    except ValueError:
        inner = value
    if inner != value and mentions(inner, name):
        return True
    try:
        return name in base64.b64decode(value, validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return False


def _escaped(name: str) -> str:
    """`name` with every `_` written as the JSON escape `\\u005f`."""
    return name.replace("_", "\\u005f")


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def search_results(found: list[dict[str, Any]], withheld: str) -> dict[str, dict[str, Any]]:
    """Semantic-search results listing `found`, each also leaking `withheld` one way."""
    tools_text = {"type": "text", "text": json.dumps({"tools": found})}

    def result(*extra: dict[str, Any], text: dict[str, Any] = tools_text) -> dict[str, Any]:
        return {
            "structuredContent": {"tools": found},
            "content": [text, *extra],
            "isError": False,
        }

    summary = json.dumps({"tools": found, "summary": f"Best match: {withheld}"})
    nested = json.dumps({"payload": '{"best": "' + _escaped(withheld) + '"}'})
    resource = {"uri": f"mcp://tools/{withheld}", "mimeType": "application/json"}
    return {
        "summary in the tools text": result(text={"type": "text", "text": summary}),
        "summary in structuredContent": {
            **result(),
            "structuredContent": {"tools": found, "summary": withheld},
        },
        "escaped name in another text": result(
            {"type": "text", "text": '{"best": "' + _escaped(withheld) + '"}'}
        ),
        "escaped name in nested JSON": result({"type": "text", "text": nested}),
        "resource block": result(
            {"type": "resource", "resource": {**resource, "text": json.dumps({"name": withheld})}}
        ),
        "resource_link block": result({"type": "resource_link", **resource, "name": withheld}),
        "image block": result({"type": "image", "mimeType": "image/png", "data": _b64(withheld)}),
        "audio block": result({"type": "audio", "mimeType": "audio/wav", "data": _b64(withheld)}),
        "result _meta": {**result(), "_meta": {"note": withheld}},
    }


def list_results(found: list[dict[str, Any]], withheld: str) -> dict[str, dict[str, Any]]:
    """`tools/list` results listing `found`, each also leaking `withheld` one way."""
    return {
        "_meta": {"tools": found, "nextCursor": "page-2", "_meta": {"note": withheld}},
        "extra content": {
            "tools": found,
            "nextCursor": "page-2",
            "content": [{"type": "text", "text": f"also: {_escaped(withheld)}"}],
        },
    }
