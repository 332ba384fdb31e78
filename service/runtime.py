"""The runtime: everything a running app holds, built once at start-up and handed to routes.

`open_runtime(settings)` is the composition root's body: it opens the
database, the change feed, the policy folder, the decision log, the token
verifier and the cache, wires the decision service from them, and closes them
all in reverse order. Routes and middleware reach it as `app.state.runtime`
(`runtime_of`), typed, instead of a bag of attributes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from service.cache.decision_cache import DecisionCache, open_cache
from service.decide.record import DecisionRecorder
from service.decide.service import DecisionService
from service.engine.errors import PolicyLoadError
from service.identity.resolver import IdentityResolver
from service.identity.verifier import open_verifier
from service.observability.decision_log import DecisionLog
from service.observability.log_setup import configure_logging
from service.observability.metrics import Metrics
from service.policies.holder import PolicyHolder
from service.policies.reloader import PolicyReloader
from service.settings import Settings
from service.store.bootstrap import (
    bootstrap_admin_key,
    keep_retiring,
    retire_former_bootstrap_keys,
)
from service.store.changes import ChangeFeed
from service.store.db import create_engine, session_factory
from service.store.facts import DatabaseFacts


@dataclass(frozen=True)
class Runtime:
    """What the app runs on; one per process, for its whole life."""

    settings: Settings
    metrics: Metrics
    database: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    changes: ChangeFeed  # PostgreSQL change notices; never live on SQLite
    policies: PolicyHolder  # the active snapshot (the decision service's policy provider)
    reloader: PolicyReloader  # fills `policies` from the folder and the tool registry
    decision_log: DecisionLog
    cache: DecisionCache | None
    decisions: DecisionService


def runtime_of(app: Any) -> Runtime:
    """The runtime of a started app (a FastAPI/Starlette app object)."""
    runtime: Runtime = app.state.runtime
    return runtime


@asynccontextmanager
async def open_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    """Open everything `settings` describe; refuse to start on invalid policies."""
    configure_logging(settings.log_level)
    metrics = Metrics()
    database = create_engine(
        settings.database_url,
        timeout_seconds=settings.db_timeout_seconds,
        pool_size=settings.db_pool_size,
    )
    sessions = session_factory(database)
    changes = ChangeFeed(
        database_url=settings.database_url,
        connect_timeout_seconds=settings.db_timeout_seconds,
    )
    changes.watch_commits(sessions)
    policies = PolicyHolder()
    reloader = PolicyReloader(
        holder=policies,
        policy_dir=settings.policy_dir,
        sessions=sessions,
        poll_seconds=settings.policy_poll_seconds,
        metrics=metrics,
    )
    # A registry or policy change on any worker or replica: recompile now, not at the next poll.
    changes.on_policies_changed(reloader.check_soon)
    decision_log = DecisionLog(
        metrics=metrics,
        queue_size=settings.decision_log_queue_size,
        stdout=settings.decision_log_stdout,
        file=settings.decision_log_file,
        file_max_bytes=settings.decision_log_file_max_bytes,
        file_backups=settings.decision_log_file_backups,
        sessions=sessions if settings.decision_log_database else None,
        retention_days=settings.decision_log_retention_days,
    )
    retiring: asyncio.Task[None] | None = None
    try:
        # Invalid policies refuse the start (the error names file:line); a database
        # that is away only delays readiness: the watcher keeps trying.
        if await reloader.reload() == "invalid":
            raise PolicyLoadError(policies.last_error or "policies could not be loaded")
        if settings.bootstrap_admin_key is not None:
            await bootstrap_admin_key(sessions, settings.bootstrap_admin_key.get_secret_value())
        elif not await retire_former_bootstrap_keys(sessions):
            # The database is away: nothing authenticates until it is back, and the
            # revoke is retried meanwhile rather than refusing the start.
            retiring = asyncio.create_task(keep_retiring(sessions), name="bootstrap-key-retire")
        reloader.start()
        decision_log.start()
        await changes.start()
        async with (
            open_verifier(settings, metrics.jwks_fetched) as verifier,
            open_cache(settings, metrics) as cache,
        ):
            on_error = metrics.store_errors.labels(store="database").inc
            decisions = DecisionService(
                policies=policies,
                facts=DatabaseFacts(sessions=sessions, changes=changes, on_unavailable=on_error),
                identity=IdentityResolver(
                    verifier=verifier,
                    issuers=settings.issuers,
                    leeway_seconds=settings.token_leeway_seconds,
                ),
                cache=cache,
                recorder=DecisionRecorder(
                    metrics=metrics,
                    decision_log=decision_log,
                    log_arguments=settings.log_arguments,
                ),
            )
            yield Runtime(
                settings=settings,
                metrics=metrics,
                database=database,
                sessions=sessions,
                changes=changes,
                policies=policies,
                reloader=reloader,
                decision_log=decision_log,
                cache=cache,
                decisions=decisions,
            )
    finally:
        if retiring is not None:
            retiring.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await retiring
        await changes.stop()
        await reloader.stop()
        await decision_log.stop()
        await database.dispose()
