"""The composition root: `create_app(settings)` wires everything at start-up."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from service.api import bulk, decisions, health
from service.api.errors import install_error_handlers
from service.api.limits import BodyLimit
from service.decisions import DecisionService
from service.identity.tokens import NoIssuers
from service.logging import configure_logging
from service.policy_holder import PolicyHolder, compile_from_store
from service.settings import Settings
from service.store.db import create_engine, session_factory


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
            app.state.settings = settings
            app.state.db_engine = engine
            app.state.policies = holder
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
    app.include_router(bulk.router)
    app.include_router(health.router)
    install_error_handlers(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    return app


def app_from_env() -> FastAPI:
    """The app for `uvicorn --factory`: settings from env and MCP_PDP_CONFIG."""
    return create_app(Settings())
