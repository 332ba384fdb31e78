"""Reading the decision log table. Functions take `session`, never commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.store.models import DecisionLogRow


@dataclass(frozen=True)
class DecisionFilter:
    """What to select from the decision log; every field optional."""

    principal: str | None = None
    tool: str | None = None
    decision: str | None = None
    code: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    before_id: str | None = None  # the cursor: decision ids sort by time


async def list_decisions(
    *, session: AsyncSession, where: DecisionFilter, limit: int
) -> Sequence[DecisionLogRow]:
    """Matching decisions, newest first, at most `limit`."""
    query = select(DecisionLogRow).order_by(DecisionLogRow.decision_id.desc()).limit(limit)
    if where.principal is not None:
        query = query.where(DecisionLogRow.principal_id == where.principal)
    if where.tool is not None:
        query = query.where(DecisionLogRow.tool == where.tool)
    if where.decision is not None:
        query = query.where(DecisionLogRow.decision == where.decision)
    if where.code is not None:
        query = query.where(DecisionLogRow.code == where.code)
    if where.since is not None:
        query = query.where(DecisionLogRow.time >= where.since)
    if where.until is not None:
        query = query.where(DecisionLogRow.time < where.until)
    if where.before_id is not None:
        query = query.where(DecisionLogRow.decision_id < where.before_id)
    return (await session.scalars(query)).all()
