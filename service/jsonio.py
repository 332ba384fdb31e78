"""JSON out, fast: orjson, and the standard library for what orjson refuses."""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(value: Any) -> bytes:
    """Compact JSON bytes; anything unknown as its `str`, NaN and infinities as null."""
    try:
        return orjson.dumps(value, default=str)
    except orjson.JSONEncodeError:
        # Integers past 64 bits, lone surrogates: slower, but nothing is lost.
        return json.dumps(value, default=str, separators=(",", ":")).encode()
