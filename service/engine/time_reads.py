"""Whether a policy can read `context.request.time`: a decision cache must not reuse
an answer that depends on the clock. Pure: looks at a policy's EST only.

Conservative by construction: any use of `context` or `context.request` as a
whole value (compared, passed on) counts as a read of the time, as does any
access to `context.request.time`; only accesses that provably name another
field (`context.token.scopes`, `context.request.uri`, `context has input`) do not.
"""

from __future__ import annotations

from typing import Any

REQUEST, TIME = "request", "time"


def _context_path(node: Any) -> list[str] | None:
    """The attributes of a `context.a.b…` chain, or None when `node` is no such chain."""
    if isinstance(node, dict):
        if node.get("Var") == "context" and len(node) == 1:
            return []
        access = node.get(".")
        if len(node) == 1 and isinstance(access, dict) and isinstance(access.get("attr"), str):
            base = _context_path(access.get("left"))
            if base is not None:
                return [*base, access["attr"]]
    return None


def _reads_time(path: list[str]) -> bool:
    """Whether the value at `context.<path>` contains or is the request time."""
    if not path:
        return True  # the whole context
    if path[0] != REQUEST:
        return False
    return len(path) == 1 or path[1] == TIME


def reads_request_time(node: Any) -> bool:
    """Whether any expression under `node` (a policy's `conditions`) may read the time."""
    if isinstance(node, list):
        return any(reads_request_time(item) for item in node)
    if not isinstance(node, dict):
        return False
    path = _context_path(node)
    if path is not None:
        return _reads_time(path)
    test = node.get("has")
    if len(node) == 1 and isinstance(test, dict):
        left = _context_path(test.get("left"))
        # `context has request`, `context.request has uri`: presence, never the time's value.
        if left is not None and len(left) <= 1:
            return False
    return any(reads_request_time(value) for value in node.values())
