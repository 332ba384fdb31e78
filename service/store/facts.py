"""Principal facts from the database, kept between decisions while change notices arrive.

A read takes one change-feed ticket for both of its queries: if a change is
announced in between, neither result is kept (service/store/changes.py). The
generations are read before the facts, so a cache entry is never stored under
generations newer than what it was computed from.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from service.engine.errors import StoreUnavailable
from service.engine.model import StoredPrincipal
from service.store import generations
from service.store.changes import ChangeFeed
from service.store.generations import Generations
from service.store.principals import load_principal

log = logging.getLogger("mcp_pdp.store")


class DatabaseFacts:
    """The facts provider of a running service: SQLite or PostgreSQL, behind the change feed."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        changes: ChangeFeed | None = None,
        on_unavailable: Callable[[], None] = lambda: None,
    ) -> None:
        self._sessions = sessions
        self._engine: AsyncEngine = sessions.kw["bind"]
        self._changes = changes
        self._on_unavailable = on_unavailable

    def read(self, principal_id: str) -> DatabaseRead:
        """Begin a read of one principal's facts."""
        return DatabaseRead(self, principal_id)

    def _unavailable(self, exc: Exception) -> None:
        self._on_unavailable()
        log.warning("store unavailable: %s", type(exc).__name__)


class DatabaseRead:
    """One principal's generations and facts, each kept or read once."""

    def __init__(self, facts: DatabaseFacts, principal_id: str) -> None:
        self._facts = facts
        self._principal_id = principal_id
        changes = facts._changes
        self._ticket = changes.ticket() if changes is not None else 0

    async def generations(self) -> Generations | None:
        """The current data generations, or None when the store cannot be read."""
        changes, principal_id = self._facts._changes, self._principal_id
        if changes is not None:
            kept = changes.generations(principal_id)
            if kept is not None:
                return kept  # no notice since they were read: still current
        try:
            # A bare connection: on a cache hit this is the decision's only database work.
            async with self._facts._engine.connect() as connection:
                current = await generations.read(session=connection, principal_id=principal_id)
        except Exception as exc:
            self._facts._unavailable(exc)
            return None
        if changes is not None:
            changes.keep_generations(principal_id, current, self._ticket)
        return current

    async def stored(self) -> StoredPrincipal:
        """Unexpired roles, attributes and the role graph; raises StoreUnavailable."""
        changes, principal_id = self._facts._changes, self._principal_id
        if changes is not None:
            kept = changes.stored(principal_id, time.time())
            if kept is not None:
                return kept
        try:
            async with self._facts._sessions() as session:
                stored = await load_principal(
                    session=session, principal_id=principal_id, now=datetime.now(UTC)
                )
        except Exception as exc:
            self._facts._unavailable(exc)
            raise StoreUnavailable("the role store could not be read") from exc
        if changes is not None:
            changes.keep_stored(principal_id, stored, self._ticket)
        return stored
