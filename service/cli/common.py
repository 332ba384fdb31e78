"""What every command shares: exit codes and one transaction on the configured database."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from service.settings import Settings
from service.store.db import create_engine, session_factory
from service.store.migrate import ensure_schema

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2

_ready: set[str] = set()  # database URLs this process has checked (and SQLite ones migrated)


async def in_session(settings: Settings, work: Callable[[AsyncSession], Awaitable[Any]]) -> Any:
    """Run `work` in one transaction: commit on success, roll back on error.

    The first session on a database migrates it if it is SQLite, and refuses
    a PostgreSQL database without tables in one line (`NotMigrated`).
    """
    if settings.database_url not in _ready:
        await asyncio.to_thread(ensure_schema, settings)
        _ready.add(settings.database_url)
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session, session.begin():
            return await work(session)
    finally:
        await engine.dispose()
