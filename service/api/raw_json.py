"""Raw JSON text of array elements, so listed tools go back exactly as they came.

A gateway may hash or sign tool definitions (tool pinning); parsing and
re-serialising would change number spellings, escapes and spacing. This walks
the request body with the standard decoder and returns each element's text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")


def _skip(raw: str, index: int) -> int:
    match = _SPACE.match(raw, index)
    return match.end() if match else index


def _end_of_value(raw: str, index: int) -> int:
    _, end = _DECODER.raw_decode(raw, index)
    return int(end)


def _find(raw: str, index: int, path: Sequence[str]) -> int | None:
    """Start of the value at `path` inside the value starting at `index`."""
    if not path:
        return index
    if raw[index] != "{":
        return None
    found: int | None = None
    index = _skip(raw, index + 1)
    if raw[index] == "}":
        return None
    while True:
        key, index = _DECODER.raw_decode(raw, index)
        index = _skip(raw, _skip(raw, index) + 1)  # past the `:`
        if key == path[0]:
            found = _find(raw, index, path[1:])  # last wins, as json.loads (the edge refuses dups)
        index = _skip(raw, _end_of_value(raw, index))
        if raw[index] != ",":
            return found
        index = _skip(raw, index + 1)


def array_items(raw: str, path: Sequence[str]) -> list[str] | None:
    """The text of each element of the array at `path`; None when it cannot be found."""
    try:
        start = _find(raw, _skip(raw, 0), path)
        if start is None or raw[start] != "[":
            return None
        items: list[str] = []
        index = _skip(raw, start + 1)
        if raw[index] == "]":
            return items
        while True:
            end = _end_of_value(raw, index)
            items.append(raw[index:end])
            index = _skip(raw, end)
            if raw[index] != ",":
                return items
            index = _skip(raw, index + 1)
    except (ValueError, IndexError):
        return None
