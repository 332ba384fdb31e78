"""Change notices: a worker learns of committed writes instead of asking per decision.

On PostgreSQL each write's transaction also runs `pg_notify('mcp_pdp_changes',
<scope>)`; the server delivers the notice when, and only if, that transaction
commits. Every worker listens on a connection of its own and keeps the data
generations and caller keys it has read until a notice says they changed, so a
cache hit needs no database round trip.

While a worker is not listening (SQLite, the connection lost, reconnecting)
nothing is kept: every decision reads the database, as it would without this.
On every (re)connect everything kept is dropped, since notices sent while the
connection was down are lost. A heartbeat query notices a silently dead
connection within `heartbeat_seconds`.

A read that races a notice is not kept: each fill carries the notice count
from before its query, and is dropped if any notice arrived meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from service.engine.model import StoredPrincipal
from service.store.generations import EVERYTHING, NEVER_WRITTEN, Generations

log = logging.getLogger("mcp_pdp.changes")
CHANNEL = "mcp_pdp_changes"
APPLICATION_NAME = "mcp-pdp change feed"  # how the listener shows in pg_stat_activity
KEYS = "keys"  # the scope of every API key write
POLICIES = "policies"  # the tool registry or the policy folder: every worker recompiles
_PENDING = "mcp_pdp_changed_scopes"  # Session.info: scopes this transaction changed
MAX_PAYLOAD = 7000  # PostgreSQL refuses payloads of 8000 bytes or more


async def announce(*, session: AsyncSession, scope: str) -> None:
    """Tell every worker, when this transaction commits, that `scope` changed."""
    session.info.setdefault(_PENDING, set()).add(scope)
    if session.get_bind().dialect.name != "postgresql":
        return
    if len(scope.encode()) > MAX_PAYLOAD:
        scope = EVERYTHING  # too long to send: everyone forgets everything
    await session.execute(
        text("SELECT pg_notify(:channel, :scope)"), {"channel": CHANNEL, "scope": scope}
    )


class ChangeFeed:
    """What this worker may keep between decisions, and the listener that says when to drop it."""

    def __init__(
        self,
        *,
        database_url: str | None,
        heartbeat_seconds: float = 2.0,
        connect_timeout_seconds: float = 2.0,
        max_principals: int = 100_000,
        max_index: int = 200_000,
    ) -> None:
        # Only PostgreSQL sends notices; anything else never goes live.
        postgres = database_url is not None and _is_postgres(database_url)
        self._url = libpq_url(database_url) if database_url and postgres else None
        self._heartbeat = heartbeat_seconds
        self._connect_timeout = connect_timeout_seconds
        self._max_principals = max_principals
        self._max_index = max_index
        self._live = False
        self._notices = 0
        self._store: str | None = None  # the store token ("*")
        self._graph: Mapping[str, frozenset[str]] | None = None  # the role graph
        # Least recently used first. An OrderedDict (C): cachetools.LRUCache took 2x as long.
        self._principals: OrderedDict[str, _Kept] = OrderedDict()
        # Every principal the database holds anything for; one not in it has no
        # roles, no attributes and token "0". None: not loaded (too many), ask per principal.
        self._index: set[str] | None = None
        self._callers: dict[str, Any] = {}
        self._task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._policies_changed: list[Callable[[], None]] = []

    @property
    def live(self) -> bool:
        """Whether notices are arriving, so what is kept here is current."""
        return self._live

    def ticket(self) -> int:
        """Take before reading the database; hand back to `keep_*` with what was read."""
        return self._notices

    def generations(self, principal_id: str) -> Generations | None:
        """The kept generations for a decision about `principal_id`, if both are kept."""
        if not self._live or self._store is None:
            return None
        kept = self._principals.get(principal_id)
        if kept is not None and kept.token is not None:
            self._principals.move_to_end(principal_id)
            return Generations(self._store, kept.token)
        if self._index is not None and principal_id not in self._index:
            return Generations(self._store, NEVER_WRITTEN)
        return None

    def stored(self, principal_id: str, now: float) -> StoredPrincipal | None:
        """The kept roles, attributes and role graph of `principal_id`, while still valid."""
        if not self._live or self._graph is None:
            return None
        kept = self._principals.get(principal_id)
        if kept is not None and kept.stored is not None:
            valid_until = kept.stored.roles_valid_until
            if valid_until is None or now < valid_until:  # an assignment expiring is no write
                self._principals.move_to_end(principal_id)
                return kept.stored
        if self._index is not None and principal_id not in self._index:
            return StoredPrincipal(role_parents=self._graph)
        return None

    def keep_generations(self, principal_id: str, current: Generations, ticket: int) -> None:
        """Keep what a read returned, unless a notice arrived since `ticket`."""
        if self._live and ticket == self._notices:
            self._store = current.store
            if self._indexed(principal_id):
                self._keep(principal_id).token = current.principal

    def keep_stored(self, principal_id: str, stored: StoredPrincipal, ticket: int) -> None:
        """Keep a principal's stored facts, unless a notice arrived since `ticket`."""
        if self._live and ticket == self._notices:
            self._graph = stored.role_parents
            if self._indexed(principal_id):
                self._keep(principal_id).stored = stored

    def _indexed(self, principal_id: str) -> bool:
        """Whether the index may hold `principal_id` (nothing to keep for those it lacks)."""
        return self._index is None or principal_id in self._index

    def _keep(self, principal_id: str) -> _Kept:
        kept = self._principals.get(principal_id)
        if kept is None:
            kept = self._principals[principal_id] = _Kept()
            while len(self._principals) > self._max_principals:
                self._principals.popitem(last=False)
        self._principals.move_to_end(principal_id)
        return kept

    def caller(self, key_digest: str) -> Any:
        """The kept caller for a key (by its SHA-256), or None."""
        return self._callers.get(key_digest) if self._live else None

    def keep_caller(self, key_digest: str, caller: Any, ticket: int) -> None:
        """Keep an authenticated caller, unless a notice arrived since `ticket`."""
        if self._live and ticket == self._notices and len(self._callers) < 10_000:
            self._callers[key_digest] = caller

    def on_policies_changed(self, listener: Callable[[], None]) -> None:
        """Call `listener` when the registry or policies may have changed anywhere."""
        self._policies_changed.append(listener)

    def _policies_may_have_changed(self) -> None:
        for listener in self._policies_changed:
            listener()

    def forget(self, scope: str) -> None:
        """Drop what `scope` covers; any read in flight is not kept."""
        self._notices += 1
        if scope == POLICIES:
            self._policies_may_have_changed()
        elif scope == EVERYTHING:  # roles, nesting or tools: every principal's facts
            self._store = self._graph = None
            self._principals.clear()
        elif scope == KEYS:
            self._callers.clear()
        elif scope.startswith("principal:"):
            principal_id = scope.removeprefix("principal:")
            self._principals.pop(principal_id, None)
            if self._index is not None:
                self._index.add(principal_id)  # may hold something now: ask the database
        else:
            self._forget_all()

    def _forget_all(self) -> None:
        self._notices += 1
        self._store = self._graph = self._index = None
        self._principals.clear()
        self._callers.clear()

    def watch_commits(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        """Apply this worker's own writes at commit, before its response is sent."""

        def committed(session: Any) -> None:
            for scope in session.info.pop(_PENDING, ()):
                self.forget(scope)

        def rolled_back(session: Any) -> None:
            session.info.pop(_PENDING, None)

        sync_class = sessions.kw.get("sync_session_class")
        if sync_class is None or sync_class is Session:
            raise ValueError("sessions need a class of their own (store.db.session_factory)")
        event.listen(sync_class, "after_commit", committed)
        event.listen(sync_class, "after_rollback", rolled_back)

    async def start(self) -> None:
        """Start listening (PostgreSQL only); waits briefly for the first connection."""
        if self._url is None or self._task is not None:
            return
        self._task = asyncio.create_task(self._listen_forever(), name="mcp-pdp change feed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._connected.wait(), self._connect_timeout)

    async def stop(self) -> None:
        """Stop listening; what is kept is dropped."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._live = False
        self._forget_all()

    async def _listen_forever(self) -> None:
        backoff = 0.1
        while True:
            try:
                await self._listen()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._live:
                    backoff = 0.1
                    log.warning(
                        "change feed lost (%s); reading the database per decision",
                        type(exc).__name__,
                    )
            self._live = False
            self._forget_all()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)

    async def _listen(self) -> None:
        import psycopg

        assert self._url is not None
        connection = await psycopg.AsyncConnection.connect(
            self._url,
            autocommit=True,
            connect_timeout=max(1, int(self._connect_timeout)),
            application_name=APPLICATION_NAME,
        )
        async with connection:
            await connection.execute(f"LISTEN {CHANNEL}")
            # Anything read before this point may predate a lost notice.
            self._forget_all()
            self._policies_may_have_changed()
            # Read after LISTEN: a write committed meanwhile is also announced, and a
            # notice only ever makes this worker ask the database again.
            await self._load_index(connection)
            self._live = True
            self._connected.set()
            log.info("change feed listening")
            while True:
                async for notice in connection.notifies(timeout=self._heartbeat):
                    self.forget(notice.payload)
                await asyncio.wait_for(connection.execute("SELECT 1"), self._heartbeat)

    async def _load_index(self, connection: Any) -> None:
        cursor = await connection.execute(
            "SELECT id FROM principals LIMIT %s", (self._max_index + 1,)
        )
        ids = {row[0] for row in await cursor.fetchall()}
        self._index = ids if len(ids) <= self._max_index else None
        if self._index is None:
            log.info("more than %d principals: their facts are read per principal", self._max_index)


@dataclass
class _Kept:
    """What is kept of one principal: its generation token and its stored facts."""

    token: str | None = None
    stored: StoredPrincipal | None = None


def _is_postgres(url: str) -> bool:
    return url.startswith(("postgresql", "postgres:"))


def libpq_url(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL (`postgresql+psycopg://…`) in the form libpq accepts."""
    return "postgresql://" + url.split("://", 1)[1]
