"""Store-level errors, mapped to HTTP in one place by the API."""

from __future__ import annotations


class StoreError(Exception):
    """A request the store refuses."""


class NotFound(StoreError):
    """A named row does not exist."""


class Conflict(StoreError):
    """The change collides with the current state (a role still in use)."""


class Invalid(StoreError):
    """The change is well-formed but not acceptable (a role cycle, an undeclared attribute)."""


class NotMigrated(StoreError):
    """The database has no tables yet: `mcp-pdp migrate` creates them."""
