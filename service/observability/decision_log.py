"""The decision log: one record per decision, written off the hot path.

Decisions put records on a bounded queue and go on; a background task writes
them in batches to stdout, a rotating file and the `decision_log` table. When
the queue is full a record is dropped and counted, rather than slowing
decisions down.
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

from sqlalchemy import delete, insert
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
            self._metrics.log_dropped.inc()

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
                await self._write(batch)
            except Exception as exc:  # a sink is down: count, keep the service going
                self._metrics.store_errors.labels(store="decision_log").inc()
                log.warning("decision log batch not stored: %s", type(exc).__name__)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _write(self, batch: list[dict[str, Any]]) -> None:
        if self._lines:
            # One write per batch and sink: a line per record, one flush.
            text = b"\n".join(jsonio.dumps(entry) for entry in batch).decode()
            for sink, logger in self._lines:
                logger.info(text)
                self._metrics.log_written.labels(sink=sink).inc(len(batch))
        if self._sessions is None:
            return
        async with self._sessions() as session, session.begin():
            if session.get_bind().dialect.name == "postgresql":
                await _copy_rows(session, batch)
            else:
                rows = [{**e, "time": datetime.fromisoformat(e["time"])} for e in batch]
                await session.execute(insert(DecisionLogRow), rows)
            now = datetime.now(UTC)
            if now >= self._next_purge:
                self._next_purge = now + PURGE_EVERY
                await session.execute(
                    delete(DecisionLogRow).where(DecisionLogRow.time < now - self._retention)
                )
        self._metrics.log_written.labels(sink="database").inc(len(batch))
