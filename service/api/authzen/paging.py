"""Search pages: an opaque `next_token` that carries where the last page ended.

Results are ordered by a key (a principal id, a tool name); a token holds the
last key given, the page size and a digest of the request, so the next page
starts after that key whatever changed in between (no duplicates, nothing
skipped that was there throughout). A token sent with other entities, context
or limit than the request it came from is refused (400), as AuthZEN asks.
The token is not signed: forging one only pages through one's own search.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from service.api.authzen.models import Page
from service.api.errors import FieldError

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


@dataclass(frozen=True)
class Cursor:
    """Where a page starts (after `after`; None: at the start) and how long it is."""

    after: str | None
    limit: int
    digest: str


def _digest(body: BaseModel) -> str:
    """The request without its page, hashed: what a token must be used with."""
    document = body.model_dump(exclude={"page"}, exclude_none=True)
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def cursor_of(body: BaseModel, page: Page | None) -> Cursor:
    """The cursor a request asks for; FieldError (400) for a bad or foreign token."""
    digest = _digest(body)
    asked = page.limit if page is not None and page.limit else None  # 0: the default
    limit = min(asked or DEFAULT_LIMIT, MAX_LIMIT)
    token = page.token if page is not None else None
    if not token:
        return Cursor(None, limit, digest)
    try:
        fields = json.loads(base64.urlsafe_b64decode(token.encode() + b"=" * (-len(token) % 4)))
        after, kept, request = fields["after"], fields["limit"], fields["request"]
    except (ValueError, TypeError, KeyError, binascii.Error):
        raise FieldError("page.token", "not a token this PDP gave") from None
    if not (isinstance(after, str) and isinstance(kept, int)) or request != digest:
        raise FieldError("page.token", "the token belongs to another request")
    if asked is not None and min(asked, MAX_LIMIT) != kept:
        raise FieldError("page.limit", "a page token keeps the limit of its first page")
    return Cursor(after, kept, digest)


def following(cursor: Cursor, found: Sequence[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """The (key, result) pairs of a search done in memory, in key order, after the cursor."""
    ordered = sorted(found, key=lambda pair: pair[0])
    return [pair for pair in ordered if cursor.after is None or pair[0] > cursor.after]


def page_of(
    cursor: Cursor, found: Sequence[tuple[str, Any]], context: dict[str, Any]
) -> dict[str, Any]:
    """The answer: the first `limit` of `found`, (key, result) pairs after the cursor in order.

    Any pair past the limit only says that another page follows.
    """
    page = list(found[: cursor.limit])
    next_token = ""
    if len(found) > cursor.limit:
        fields = {"after": page[-1][0], "limit": cursor.limit, "request": cursor.digest}
        raw = json.dumps(fields, separators=(",", ":")).encode()
        next_token = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    return {
        "page": {"next_token": next_token, "count": len(page)},
        "context": context,
        "results": [result for _, result in page],
    }
