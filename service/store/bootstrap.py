"""The admin key the settings name (`bootstrap_admin_key`): stored at start, revoked once unset."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.store.keys import ensure_bootstrap_key, retire_bootstrap_keys, split_key

log = logging.getLogger("mcp_pdp.keys")
RETIRE_RETRY_SECONDS = 2.0


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
