"""Subject search: the principals of the database holding a role that reaches an action.

The roles are judged by `engine/reach.py` (partial evaluation, one role at a
time, token and arguments unknown); the principals are those holding one of
them, unexpired, read from the database in id order. Grants by claims or
attributes are not seen: the search is over the role database only.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.engine.model import Action
from service.engine.policies import PolicySnapshot
from service.engine.reach import roles_reaching
from service.store.principals import principals_holding
from service.store.roles import role_names, role_parents


async def principals_reaching(
    snapshot: PolicySnapshot | None,
    sessions: async_sessionmaker[AsyncSession],
    action: Action,
    *,
    after: str | None,
    limit: int,
    clock: Callable[[], float] = time.time,
) -> list[str]:
    """Up to `limit` ids after `after`, in id order; none while no policy set is loaded."""
    if snapshot is None:
        return []
    async with sessions() as session:
        names = await role_names(session=session)
        parents = await role_parents(session=session)
    # Cedar runs between the two reads: no pooled connection is held meanwhile.
    reach = roles_reaching(snapshot, action, names, parents, int(clock()))
    if not (reach.anyone or reach.roles):
        return []
    async with sessions() as session:
        return await principals_holding(
            session=session,
            roles=None if reach.anyone else reach.roles,
            now=datetime.fromtimestamp(clock(), UTC),
            after=after,
            limit=limit,
        )
