"""Dependencies the routes take: the runtime the lifespan built, and parts of it, by type.

Every dependency is `async def`: FastAPI runs plain `def` dependencies in a
thread, a hop the hot path should not pay.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from service.decide.service import DecisionService
from service.policies.holder import PolicyHolder
from service.policies.reloader import PolicyReloader
from service.runtime import Runtime, runtime_of
from service.settings import Settings


async def _runtime(request: Request) -> Runtime:
    return runtime_of(request.app)


RuntimeDep = Annotated[Runtime, Depends(_runtime)]


async def _decision_service(runtime: RuntimeDep) -> DecisionService:
    return runtime.decisions


async def _policies(runtime: RuntimeDep) -> PolicyHolder:
    return runtime.policies


async def _reloader(runtime: RuntimeDep) -> PolicyReloader:
    return runtime.reloader


async def _database(runtime: RuntimeDep) -> AsyncEngine:
    return runtime.database


async def _sessions(runtime: RuntimeDep) -> async_sessionmaker[AsyncSession]:
    return runtime.sessions


async def _settings(runtime: RuntimeDep) -> Settings:
    return runtime.settings


async def _policy_lock(runtime: RuntimeDep) -> asyncio.Lock:
    # The reloader's lock: a registry change and a reload never interleave.
    return runtime.reloader.lock


async def _session(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    """The request's unit of work: commit when the route returns, roll back if it raises."""
    async with runtime.sessions() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        await session.commit()


DecisionServiceDep = Annotated[DecisionService, Depends(_decision_service)]
PoliciesDep = Annotated[PolicyHolder, Depends(_policies)]
ReloaderDep = Annotated[PolicyReloader, Depends(_reloader)]
DatabaseDep = Annotated[AsyncEngine, Depends(_database)]
SessionsDep = Annotated[async_sessionmaker[AsyncSession], Depends(_sessions)]
SettingsDep = Annotated[Settings, Depends(_settings)]
PolicyLockDep = Annotated[asyncio.Lock, Depends(_policy_lock)]
# scope="function": the commit happens before the response is sent, so a write
# is visible to the very next request, and a failed commit is the response.
SessionDep = Annotated[AsyncSession, Depends(_session, scope="function")]
