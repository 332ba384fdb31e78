"""The id of the request being served, for every log line and decision record."""

from __future__ import annotations

from contextvars import ContextVar

current_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
