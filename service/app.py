"""The composition root: `create_app(settings)` wires everything at start-up."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.api import decisions, health
from service.api.admin import admin_router
from service.api.errors import install_error_handlers
from service.api.limits import BodyLimit
from service.decisions import DecisionService
from service.identity.tokens import NoIssuers
from service.logging import configure_logging
from service.policy_holder import PolicyHolder, compile_from_store
from service.settings import Settings
from service.store.db import create_engine, session_factory
from service.store.keys import ensure_bootstrap_key


def create_app(settings: Settings) -> FastAPI:
    """Build the ASGI app; the lifespan opens the database and loads policies."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.log_level)
        engine = create_engine(settings.database_url, timeout_seconds=settings.db_timeout_seconds)
        sessions = session_factory(engine)
        holder = PolicyHolder()
        try:
            # Invalid policies at start refuse the start (PolicyLoadError names file:line).
            holder.activate(await compile_from_store(settings.policy_dir, sessions))
            if settings.bootstrap_admin_key is not None:
                await bootstrap_admin_key(sessions, settings.bootstrap_admin_key.get_secret_value())
            app.state.settings = settings
            app.state.db_engine = engine
            app.state.sessions = sessions
            app.state.policies = holder
            app.state.policy_lock = asyncio.Lock()
            app.state.decisions = DecisionService(
                policies=holder, sessions=sessions, verifier=NoIssuers(), issuers=settings.issuers
            )
            yield
        finally:
            await engine.dispose()

    app = FastAPI(
        title="mcp-pdp",
        summary="Policy decision point for MCP gateways",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.include_router(decisions.router)
    app.include_router(health.router)
    app.include_router(admin_router())
    install_error_handlers(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    return app


async def bootstrap_admin_key(sessions: async_sessionmaker[AsyncSession], raw: str) -> None:
    """Store the configured admin key; replicas starting together may race, one wins."""
    try:
        async with sessions() as session, session.begin():
            await ensure_bootstrap_key(session=session, raw=raw)
    except IntegrityError:
        pass  # another replica stored the same key first


def app_from_env() -> FastAPI:
    """The app for `uvicorn --factory`: settings from env and MCP_PDP_CONFIG."""
    return create_app(Settings())
