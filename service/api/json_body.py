"""Request bodies as JSON, with what JSON allows but mcp-pdp refuses: one parse for all routes.

A NUL character or a lone surrogate (U+D800-U+DFFF not paired) in any string or
key cannot be stored (PostgreSQL refuses NUL in text, neither driver encodes a
surrogate) and cannot be written back as UTF-8; a duplicate key would have a
tool server that keeps the first one run other arguments than those decided.
Each is a 422 naming the field. Every route parses its body through `JsonRoute`
and the decision fast path through `loads`, so both answer alike.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import HTTPException, Request, Response
from fastapi.routing import APIRoute

# Only these escapes, or an encoded surrogate, put a NUL or a surrogate into a
# parsed string; nearly every body has none and is not looked at again.
_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")
_REFUSED = re.compile("[\x00\ud800-\udfff]")
# Request state: the body the decision fast path parsed (or the error it raised).
PARSED_STATE = "mcp_pdp_parsed_body"


class UnsafeJson(ValueError):
    """A body field with a NUL, a lone surrogate or a duplicate key; `field` is its JSON path."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class _Duplicate(Exception):
    """Raised from the parse when an object repeats a key; the walk then says where."""


class _Pairs(list[tuple[str, Any]]):
    """An object's members in order, duplicates kept, for the walk."""


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        raise _Duplicate
    return value


# Built once: json.loads with a hook builds a decoder per call, which costs more than the hook.
_DECODER = json.JSONDecoder(object_pairs_hook=_unique)
_WALKER = json.JSONDecoder(object_pairs_hook=_Pairs)


def loads(body: bytes) -> Any:
    """`json.loads(body)`, raising UnsafeJson for a NUL, a lone surrogate or a duplicate key."""
    encoding = json.detect_encoding(body)
    try:
        text, encoded_surrogate = body.decode(encoding), False
    except UnicodeDecodeError:
        # json.loads decodes with `surrogatepass`: an encoded surrogate gets in that way.
        text, encoded_surrogate = body.decode(encoding, "surrogatepass"), True
    try:
        value = _DECODER.decode(text)
    except _Duplicate:
        _walk(_WALKER.decode(text), ())  # raises, naming the field
        raise UnsafeJson("body", "duplicate key") from None  # not reached
    if (encoded_surrogate or _ESCAPE.search(text)) and _refused_inside(value):
        _walk(_WALKER.decode(text), ())
    return value


def _refused_inside(value: Any) -> bool:
    """Whether a string or key holds a NUL or a surrogate, at C speed; true may be a false alarm.

    A valid pair written as two escapes (an emoji from an ASCII-only client) makes a
    body suspect; this spares it the walk: a second parse and a pass in Python.
    """
    try:
        written = orjson.dumps(value)
    except orjson.JSONEncodeError:
        return True  # a surrogate, or an integer past 64 bits: the walk decides
    return b"\\u0000" in written  # also `\\u0000` written out: the walk decides


def _walk(value: Any, path: tuple[str | int, ...]) -> None:
    """Raise UnsafeJson for the first refused string or key, in document order."""
    if isinstance(value, str):
        if _REFUSED.search(value):
            raise UnsafeJson(_field(path), _problem(value))
    elif isinstance(value, _Pairs):
        seen: set[str] = set()
        for key, item in value:
            here = (*path, key)
            if _REFUSED.search(key):
                raise UnsafeJson(_field(here), f"the key {_problem(key)}")
            if key in seen:
                raise UnsafeJson(_field(here), "duplicate key")
            seen.add(key)
            _walk(item, here)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk(item, (*path, index))


def _escaped(text: str) -> str:
    """`text` with refused characters as `\\uXXXX`: the answer must be valid UTF-8 itself."""
    return _REFUSED.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def _field(path: tuple[str | int, ...]) -> str:
    return ".".join(_escaped(str(part)) for part in path) or "body"


def _problem(text: str) -> str:
    if "\x00" in text:
        return "contains a NUL character (\\u0000)"
    return "contains a lone surrogate (U+D800 to U+DFFF outside a pair)"


class _CheckedRequest(Request):
    """A request whose `json()` is `loads`: what FastAPI calls to parse a JSON body."""

    _parsed: Any = None
    _has_parsed = False

    async def json(self) -> Any:
        """The parsed body; a 422 naming the field for a refused one."""
        if not self._has_parsed:
            try:
                self._parsed = await self._parse()
            except UnsafeJson as exc:
                # FastAPI answers 400, naming no field, to other errors raised here.
                detail = [{"field": exc.field, "message": exc.message, "type": "value_error"}]
                raise HTTPException(status_code=422, detail=detail) from None
            self._has_parsed = True
        return self._parsed

    async def _parse(self) -> Any:
        """The fast path's result when it parsed this body already, else `loads`."""
        handed: Any = self.scope.get("state", {}).get(PARSED_STATE, _NOTHING)
        if handed is _NOTHING:
            return loads(await self.body())
        if isinstance(handed, BaseException):
            raise handed
        return handed


_NOTHING = object()


class JsonRoute(APIRoute):
    """The route class of every router: its JSON body is parsed by `loads`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """FastAPI's handler, given a request that parses with `loads`."""
        handler = super().get_route_handler()

        async def checked(request: Request) -> Response:
            return await handler(_CheckedRequest(request.scope, request.receive))

        return checked
