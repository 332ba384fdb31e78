"""Dependencies the routes take: what the lifespan built, by type."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from service.decide.service import DecisionService
from service.policies.holder import PolicyHolder
from service.policies.reloader import PolicyReloader
from service.settings import Settings
from service.store.changes import ChangeFeed


async def _decision_service(request: Request) -> DecisionService:
    service: DecisionService = request.app.state.decisions
    return service


async def _policies(request: Request) -> PolicyHolder:
    holder: PolicyHolder = request.app.state.policies
    return holder


async def _db_engine(request: Request) -> AsyncEngine:
    engine: AsyncEngine = request.app.state.db_engine
    return engine


async def _sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    return sessions


async def _changes(request: Request) -> ChangeFeed:
    changes: ChangeFeed = request.app.state.changes
    return changes


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _policy_lock(request: Request) -> asyncio.Lock:
    # The reloader's lock: a registry change and a reload never interleave.
    lock: asyncio.Lock = request.app.state.reloader.lock
    return lock


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's unit of work: commit when the route returns, roll back if it raises."""
    async with (await _sessions(request))() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        await session.commit()


DecisionServiceDep = Annotated[DecisionService, Depends(_decision_service)]
PoliciesDep = Annotated[PolicyHolder, Depends(_policies)]
DbEngineDep = Annotated[AsyncEngine, Depends(_db_engine)]
SessionsDep = Annotated[async_sessionmaker[AsyncSession], Depends(_sessions)]
SettingsDep = Annotated[Settings, Depends(_settings)]
ChangesDep = Annotated[ChangeFeed, Depends(_changes)]
PolicyLockDep = Annotated[asyncio.Lock, Depends(_policy_lock)]


async def _reloader(request: Request) -> PolicyReloader:
    reloader: PolicyReloader = request.app.state.reloader
    return reloader


ReloaderDep = Annotated[PolicyReloader, Depends(_reloader)]
# scope="function": the commit happens before the response is sent, so a write
# is visible to the very next request, and a failed commit is the response.
SessionDep = Annotated[AsyncSession, Depends(_session, scope="function")]
