"""The composition root: `create_app(settings)` wires everything at start-up."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.api import bulk, decisions, health, operations
from service.api.admin import admin_router
from service.api.errors import install_error_handlers
from service.api.middleware.body_limit import BodyLimit
from service.api.middleware.fast_path import DecisionFastPath
from service.api.middleware.request_id import RequestId
from service.cache.decision_cache import open_cache
from service.decide.service import DecisionService
from service.engine.errors import PolicyLoadError
from service.identity.verifier import open_verifier
from service.observability.decision_log import DecisionLog
from service.observability.log_setup import configure_logging
from service.observability.metrics import Metrics
from service.policies.holder import PolicyHolder
from service.policies.reloader import PolicyReloader
from service.settings import Settings
from service.store.changes import ChangeFeed
from service.store.db import create_engine, session_factory
from service.store.keys import ensure_bootstrap_key, retire_bootstrap_keys, split_key

log = logging.getLogger("mcp_pdp.keys")
RETIRE_RETRY_SECONDS = 2.0


def create_app(settings: Settings, *, serving: bool = False) -> FastAPI:
    """Build the ASGI app; the lifespan opens the database and loads policies.

    `serving`: this process is a server worker (not a test or a tool), so tune
    the garbage collector for latency once started.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.log_level)
        metrics = Metrics()
        engine = create_engine(
            settings.database_url,
            timeout_seconds=settings.db_timeout_seconds,
            pool_size=settings.db_pool_size,
        )
        sessions = session_factory(engine)
        changes = ChangeFeed(
            database_url=settings.database_url,
            connect_timeout_seconds=settings.db_timeout_seconds,
        )
        changes.watch_commits(sessions)
        holder = PolicyHolder()
        reloader = PolicyReloader(
            holder=holder,
            policy_dir=settings.policy_dir,
            sessions=sessions,
            poll_seconds=settings.policy_poll_seconds,
            metrics=metrics,
        )
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
                raise PolicyLoadError(holder.last_error or "policies could not be loaded")
            if settings.bootstrap_admin_key is not None:
                await bootstrap_admin_key(sessions, settings.bootstrap_admin_key.get_secret_value())
            elif not await retire_former_bootstrap_keys(sessions):
                # The database is away: nothing authenticates until it is back, and the
                # revoke is retried meanwhile rather than refusing the start.
                retiring = asyncio.create_task(keep_retiring(sessions), name="bootstrap-key-retire")
            reloader.start()
            decision_log.start()
            await changes.start()
            app.state.changes = changes
            app.state.metrics = metrics
            app.state.reloader = reloader
            app.state.settings = settings
            app.state.db_engine = engine
            app.state.sessions = sessions
            app.state.policies = holder
            app.state.decision_log = decision_log
            async with (
                open_verifier(settings, metrics.jwks_fetched) as verifier,
                open_cache(settings, metrics) as cache,
            ):
                app.state.decisions = DecisionService(
                    policies=holder,
                    sessions=sessions,
                    verifier=verifier,
                    issuers=settings.issuers,
                    leeway_seconds=settings.token_leeway_seconds,
                    metrics=metrics,
                    decision_log=decision_log,
                    log_arguments=frozenset(settings.log_arguments),
                    cache=cache,
                    changes=changes,
                )
                if serving:
                    tune_garbage_collector()
                yield
        finally:
            if retiring is not None:
                retiring.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await retiring
            await changes.stop()
            await reloader.stop()
            await decision_log.stop()
            await engine.dispose()

    app = FastAPI(
        title="mcp-pdp",
        summary="Policy decision point for MCP gateways",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.include_router(decisions.router)
    app.include_router(bulk.router)
    app.include_router(health.router)
    app.include_router(operations.router)
    app.include_router(admin_router())
    install_error_handlers(app)
    # Innermost first: the fast path sees the body BodyLimit has checked, inside the request id.
    app.add_middleware(DecisionFastPath)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestId)
    return app


async def bootstrap_admin_key(sessions: async_sessionmaker[AsyncSession], raw: str) -> None:
    """Store the configured admin key, revoke others the settings stored; replicas may race."""
    try:
        async with sessions() as session, session.begin():
            await ensure_bootstrap_key(session=session, raw=raw)
            await retire_bootstrap_keys(session=session, keep=split_key(raw)[0])
    except IntegrityError:
        pass  # another replica stored the same key first (and revoked the others)


async def retire_former_bootstrap_keys(sessions: async_sessionmaker[AsyncSession]) -> bool:
    """With `bootstrap_admin_key` unset, revoke any key it stored; False if the database is away."""
    try:
        async with sessions() as session, session.begin():
            await retire_bootstrap_keys(session=session, keep=None)
    except Exception as exc:
        log.warning("could not revoke a former bootstrap admin key: %s", type(exc).__name__)
        return False
    return True


async def keep_retiring(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Retry `retire_former_bootstrap_keys` until the database answers."""
    while True:
        await asyncio.sleep(RETIRE_RETRY_SECONDS)
        if await retire_former_bootstrap_keys(sessions):
            return


def app_from_env() -> FastAPI:
    """The app for `uvicorn --factory`: settings from env and MCP_PDP_CONFIG."""
    return create_app(Settings(), serving=True)


def tune_garbage_collector() -> None:
    """Keep full collections off the decision path.

    A full (generation 2) collection walks every long-lived object, and the
    caches hold hundreds of thousands: under load it stopped a worker for
    90-110 ms (measured with gc.callbacks), which was the whole p99. What is
    alive after start-up is frozen out of collection, young collections run
    less often and full ones about a hundred times less often. Reference
    cycles are still collected.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 50, 1000)
