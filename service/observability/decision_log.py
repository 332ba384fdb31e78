"""The decision log: one record per decision, written off the hot path.

Decisions put records on a bounded queue and go on; a background task writes
them in batches to stdout, a rotating file and the `decision_log` table. When
the queue is full a record is dropped and counted, rather than slowing
decisions down. A record a sink cannot take (one that cannot be serialised, or
that the database refuses) is dropped and counted alone: the rest of its batch
is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import logging.handlers
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import delete, insert
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service import jsonio
from service.observability.metrics import Metrics
from service.store.models import DecisionLogRow

log = logging.getLogger("mcp_pdp.decision_log")
BATCH = 500
# After the first record of a batch, wait this long for more: one database
# transaction per batch, not per decision, is what keeps the log cheap.
LINGER_SECONDS = 0.05
PURGE_EVERY = timedelta(minutes=10)
# The database is away, not refusing a record: retrying record by record would
# only wait out the same timeout once per record.
UNAVAILABLE = (
    OSError,
    TimeoutError,
    OperationalError,
    InterfaceError,
    PoolTimeout,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)


def _line_logger(name: str, handler: logging.Handler) -> logging.Logger:
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger(name)
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


_COLUMNS = tuple(column.name for column in DecisionLogRow.__table__.columns)
_JSON_COLUMNS = frozenset({"reasons", "shadow", "argument_names", "arguments"})
_COPY = f"COPY decision_log ({', '.join(_COLUMNS)}) FROM STDIN"


async def _copy_rows(session: AsyncSession, batch: list[dict[str, Any]]) -> None:
    """Insert a batch with COPY: a fraction of the CPU of a multi-row INSERT, on both ends."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    async with driver.cursor() as cursor, cursor.copy(_COPY) as copy:
        for entry in batch:
            await copy.write_row(
                tuple(
                    jsonio.dumps(entry[name]).decode() if name in _JSON_COLUMNS else entry[name]
                    for name in _COLUMNS
                )
            )


class DecisionLog:
    """Queue and sinks of the decision log."""

    def __init__(
        self,
        *,
        metrics: Metrics,
        queue_size: int,
        stdout: bool,
        file: Path | None,
        file_max_bytes: int,
        file_backups: int,
        sessions: async_sessionmaker[AsyncSession] | None,
        retention_days: int,
    ) -> None:
        self._metrics = metrics
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=queue_size)
        self._sessions = sessions
        self._retention = timedelta(days=retention_days)
        self._next_purge = datetime.now(UTC)
        self._task: asyncio.Task[None] | None = None
        self._lines: list[tuple[str, logging.Logger]] = []
        if stdout:
            self._lines.append(
                (
                    "stdout",
                    _line_logger("mcp_pdp.decisions.stdout", logging.StreamHandler(sys.stdout)),
                )
            )
        if file is not None:
            handler = logging.handlers.RotatingFileHandler(
                file, maxBytes=file_max_bytes, backupCount=file_backups, encoding="utf-8"
            )
            self._lines.append(("file", _line_logger("mcp_pdp.decisions.file", handler)))

    def record(self, entry: dict[str, Any]) -> None:
        """Queue one record; never blocks, never raises."""
        try:
            self._queue.put_nowait(entry)
        except asyncio.QueueFull:
            self._metrics.log_dropped.labels(sink="all", reason="queue_full").inc()

    async def flush(self) -> None:
        """Wait until every queued record has been written (or failed)."""
        if self._task is not None:
            await self._queue.join()

    def start(self) -> None:
        """Start the writer task."""
        self._task = asyncio.create_task(self._run(), name="decision-log")

    async def stop(self) -> None:
        """Write what is queued, then stop."""
        if self._task is None:
            return
        await self._queue.join()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        for _sink, logger in self._lines:
            for handler in logger.handlers:
                handler.close()

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            if self._queue.qsize() < BATCH:
                await asyncio.sleep(LINGER_SECONDS)
            while len(batch) < BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                if self._lines:
                    self._write_lines(batch)
                if self._sessions is not None and await self._store(self._sessions, batch):
                    await self._purge(self._sessions)
            except Exception as exc:  # a sink failed unexpectedly: keep the writer going
                self._metrics.store_errors.labels(store="decision_log").inc()
                log.warning("decision log write failed: %s", type(exc).__name__)
            finally:
                for _ in batch:
                    self._queue.task_done()

    def _dropped(self, entry: dict[str, Any], sink: str, exc: Exception) -> None:
        """Count a record a sink refused; log its id, never its contents."""
        self._metrics.log_dropped.labels(sink=sink, reason="unwritable").inc()
        log.warning(
            "decision log record %s not written to %s: %s",
            entry.get("decision_id"),
            sink,
            type(exc).__name__,
        )

    def _write_lines(self, batch: list[dict[str, Any]]) -> None:
        """One write per sink for the batch: a line per record that serialises, one flush."""
        lines = []
        for entry in batch:
            try:
                lines.append(jsonio.dumps(entry))
            except Exception as exc:  # e.g. a reference cycle: lose this record only
                for sink, _logger in self._lines:
                    self._dropped(entry, sink, exc)
        if not lines:
            return
        text = b"\n".join(lines).decode()
        for sink, logger in self._lines:
            logger.info(text)
            self._metrics.log_written.labels(sink=sink).inc(len(lines))

    async def _store(
        self, sessions: async_sessionmaker[AsyncSession], batch: list[dict[str, Any]]
    ) -> bool:
        """Insert the batch, leaving out only the records the database refuses.

        A refused record fails its whole batch, so a failed batch is split in
        halves until each refused record is alone. False when the database is away.
        """
        try:
            async with sessions() as session, session.begin():
                if session.get_bind().dialect.name == "postgresql":
                    await _copy_rows(session, batch)
                else:
                    rows = [{**e, "time": datetime.fromisoformat(e["time"])} for e in batch]
                    await session.execute(insert(DecisionLogRow), rows)
        except UNAVAILABLE as exc:
            self._metrics.store_errors.labels(store="decision_log").inc()
            self._metrics.log_dropped.labels(sink="database", reason="unavailable").inc(len(batch))
            log.warning(
                "decision log: %d records not stored, database unavailable: %s",
                len(batch),
                type(exc).__name__,
            )
            return False
        except Exception as exc:  # a record the database or driver refuses, e.g. NUL in text
            if len(batch) == 1:
                self._dropped(batch[0], "database", exc)
                return True
            half = len(batch) // 2
            first = await self._store(sessions, batch[:half])
            second = await self._store(sessions, batch[half:])
            return first and second
        self._metrics.log_written.labels(sink="database").inc(len(batch))
        return True

    async def _purge(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        """Delete rows past the retention, at most every PURGE_EVERY."""
        now = datetime.now(UTC)
        if now < self._next_purge:
            return
        self._next_purge = now + PURGE_EVERY
        async with sessions() as session, session.begin():
            await session.execute(
                delete(DecisionLogRow).where(DecisionLogRow.time < now - self._retention)
            )
