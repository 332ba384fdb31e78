"""Data generations: bumped in the transaction of every write, read by the decision cache.

The database is the source of truth: the bump commits (or rolls back) with the
change it stands for, so a reader that sees the change also sees the new token,
on every replica, with nothing to deliver after the commit. Tokens are random,
not counters, so a database restored or wiped never repeats a token an old
cache entry was stored under.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from service.store.models import DataGeneration

EVERYTHING = "*"  # roles, role nesting and the tool registry: every principal's answers
NEVER_WRITTEN = "0"


def principal_scope(principal_id: str) -> str:
    """The scope of one principal's assignments and attributes."""
    return f"principal:{principal_id}"


@dataclass(frozen=True)
class Generations:
    """The tokens a decision depended on: the whole store's and its principal's."""

    store: str
    principal: str


async def bump(*, session: AsyncSession, scope: str) -> None:
    """Give `scope` a new token, in the caller's transaction."""
    token = secrets.token_hex(8)
    dialect = session.get_bind().dialect.name
    insert = (pg_insert if dialect == "postgresql" else sqlite_insert)(DataGeneration)
    await session.execute(
        insert.values(scope=scope, token=token).on_conflict_do_update(
            index_elements=[DataGeneration.scope], set_={"token": token}
        )
    )


async def read(*, session: AsyncSession | AsyncConnection, principal_id: str) -> Generations:
    """The current tokens for a decision about `principal_id` (one query).

    Takes a bare connection too: on a cache hit this is the decision's only
    database work, and a connection costs less than an ORM session.
    """
    mine = principal_scope(principal_id)
    rows = await session.execute(
        select(DataGeneration.scope, DataGeneration.token).where(
            DataGeneration.scope.in_((EVERYTHING, mine))
        )
    )
    tokens = {scope: token for scope, token in rows.all()}
    return Generations(tokens.get(EVERYTHING, NEVER_WRITTEN), tokens.get(mine, NEVER_WRITTEN))
