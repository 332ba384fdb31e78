"""Store-level errors, mapped to HTTP in one place by the API."""

from __future__ import annotations


class StoreError(Exception):
    """A request the store refuses."""


class NotFound(StoreError):
    """A named row does not exist."""


class Conflict(StoreError):
    """The change would break an invariant (a role cycle, a role in use)."""
