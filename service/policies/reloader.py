"""Hot reload: the policy folder and tool registry are watched; the last good set wins."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import signal
from pathlib import Path
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.engine.errors import PolicyLoadError
from service.engine.policies import load_snapshot
from service.observability.metrics import Metrics
from service.policies.holder import PolicyHolder
from service.store import models
from service.store.migrate import NO_TABLES, is_missing_table
from service.store.tools import load_tools

log = logging.getLogger("mcp_pdp.policies")
ReloadResult = Literal["ok", "invalid", "unavailable"]
EMPTY_REGISTRY = (
    "the tool registry is empty: register tools with PUT /admin/v1/tools or `mcp-pdp tools sync`"
)


def folder_fingerprint(policy_dir: Path) -> str:
    """Names, sizes and modification times of the stub and `.cedar` files."""
    digest = hashlib.sha256()
    for path in sorted(policy_dir.glob("*.cedar*")):
        with contextlib.suppress(OSError):  # a file removed mid-scan shows up next time
            stat = path.stat()
            digest.update(f"{path.name}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
    return digest.hexdigest()


class PolicyReloader:
    """Compiles and swaps policy snapshots; one reload at a time."""

    def __init__(
        self,
        *,
        holder: PolicyHolder,
        policy_dir: Path,
        sessions: async_sessionmaker[AsyncSession],
        poll_seconds: float,
        metrics: Metrics,
    ) -> None:
        self._holder = holder
        self._policy_dir = policy_dir
        self._sessions = sessions
        self._poll_seconds = poll_seconds
        self.lock = asyncio.Lock()  # held by every reload and registry change
        self._seen: tuple[str, str] | None = None
        self._task: asyncio.Task[None] | None = None
        self._checks: set[asyncio.Task[None]] = set()  # kept so they are not collected mid-run
        self._metrics = metrics
        # The last failure logged: each poll that fails the same way says nothing new.
        self._reported: str | None = None

    async def _registry_fingerprint(self) -> str:
        async with self._sessions() as session:
            count, newest = (
                await session.execute(select(func.count(), func.max(models.Tool.updated_at)))
            ).one()
        return f"{count}:{newest}"

    async def reload(self) -> ReloadResult:
        """Compile the folder against the registry and activate it.

        "invalid" and "unavailable" (the database could not be read) keep the
        last good set serving.
        """
        async with self.lock:
            try:
                # Remember what was tried, good or bad, so a broken file is reported
                # once and the next edit triggers the next attempt.
                self._seen = (
                    folder_fingerprint(self._policy_dir),
                    await self._registry_fingerprint(),
                )
                tools = None
                async with self._sessions() as session:
                    tools = await load_tools(session=session)
                # Parsing and validation are CPU work: keep the event loop serving meanwhile.
                snapshot = await asyncio.to_thread(load_snapshot, self._policy_dir, tools)
            except PolicyLoadError as exc:
                if tools == []:
                    # A fresh deployment: policies name tools nobody registered yet.
                    # Wait for the registry instead of refusing to run.
                    return self._failed("unavailable", f"{exc} ({EMPTY_REGISTRY})")
                return self._failed("invalid", str(exc))
            except Exception as exc:
                return self._failed("unavailable", _describe(exc))
            current = self._holder.current
            if current is None or current.version != snapshot.version:
                self._holder.activate(snapshot)
                self._metrics.active_version(snapshot.version)
                log.info("policies activated", extra={"policy_version": snapshot.version})
            self._holder.last_error = None
            self._reported = None
            self._metrics.policy_reloads.labels(result="ok").inc()
            self._metrics.policy_error.set(0)
            return "ok"

    def _failed(self, result: ReloadResult, message: str) -> ReloadResult:
        self._holder.fail(message)
        self._metrics.policy_reloads.labels(result=result).inc()
        self._metrics.policy_error.set(1)
        if message != self._reported:
            self._reported = message
            log.error(
                "policy reload failed; the last good set keeps serving", extra={"error": message}
            )
        return result

    def check_soon(self) -> None:
        """Reload soon if the folder or the registry changed (a change notice arrived)."""
        task = asyncio.create_task(self._check(), name="policy-check")
        self._checks.add(task)
        task.add_done_callback(self._checks.discard)

    async def _check(self) -> None:
        """Reload if anything changed; a failure is logged once until it changes."""
        try:
            if self._holder.current is None or await self._changed():
                await self.reload()
            elif self._holder.last_error is None:
                self._reported = None  # the database answered: a later failure is news
        except Exception as exc:  # the database may be away; the next check tries again
            reason = NO_TABLES if is_missing_table(exc) else type(exc).__name__
            if reason != self._reported:
                self._reported = reason
                log.warning("policy check skipped: %s", reason)

    async def _changed(self) -> bool:
        fingerprint = (folder_fingerprint(self._policy_dir), await self._registry_fingerprint())
        return fingerprint != self._seen

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._poll_seconds)
            # Until a first set is active (the database was away at start), keep trying.
            await self._check()

    def start(self) -> None:
        """Start polling (when enabled) and reload on SIGHUP."""
        if self._poll_seconds > 0:
            self._task = asyncio.create_task(self._watch(), name="policy-watch")
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.create_task(self.reload()))

    async def stop(self) -> None:
        """Stop polling and forget the SIGHUP handler."""
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
        for task in (self._task, *self._checks):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task


def _describe(exc: Exception) -> str:
    """A failed reload in one line; a database without tables says what to do."""
    return NO_TABLES if is_missing_table(exc) else f"{type(exc).__name__}: {exc}"
