"""What every command shares: exit codes and one transaction on the configured database."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from service.settings import Settings
from service.store.db import create_engine, session_factory

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


async def in_session(settings: Settings, work: Callable[[AsyncSession], Awaitable[Any]]) -> Any:
    """Run `work` in one transaction: commit on success, roll back on error."""
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session, session.begin():
            return await work(session)
    finally:
        await engine.dispose()
