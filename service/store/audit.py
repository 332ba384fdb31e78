"""The audit log: every admin write adds one row in the same transaction as the change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.store import changes, generations
from service.store.models import AuditEntry

PRINCIPAL = "principal"
ROLE = "role"
TOOLS = "tools"
POLICIES = "policies"
KEY = "key"
# What a change to each kind of target can alter in a decision: one principal's
# entities, or everyone's. Keys and policy reloads change no stored decision input
# (a reload changes the policy version instead).
_GENERATION_SCOPE = {ROLE: generations.EVERYTHING, TOOLS: generations.EVERYTHING}


def utc(value: datetime) -> datetime:
    """`value` in UTC; SQLite hands back naive datetimes, which are UTC here."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


async def record(
    *,
    session: AsyncSession,
    actor: str,
    action: str,
    target_kind: str,
    target: str,
    before: Any = None,
    after: Any = None,
) -> None:
    """Add the audit row of a change; it commits or rolls back with the change itself.

    Every write is audited, so this is also where the data generation the
    decision cache keys on is bumped, and the change announced to every worker
    (service/store/changes.py): in the same transaction, never forgotten.
    """
    scope = None
    if target_kind == PRINCIPAL:
        scope = generations.principal_scope(target)
    elif target_kind in _GENERATION_SCOPE:
        scope = _GENERATION_SCOPE[target_kind]
    elif target_kind == KEY:
        # No decision input changes, but workers that keep authenticated keys must drop them.
        await changes.announce(session=session, scope=changes.KEYS)
    if target_kind in (TOOLS, POLICIES):
        # Every worker and replica recompiles now rather than at its next poll.
        await changes.announce(session=session, scope=changes.POLICIES)
    if scope is not None:
        await generations.bump(session=session, scope=scope)
        await changes.announce(session=session, scope=scope)
    session.add(
        AuditEntry(
            at=datetime.now(UTC),
            actor=actor,
            action=action,
            target_kind=target_kind,
            target=target,
            before=before,
            after=after,
        )
    )
    await session.flush()


@dataclass(frozen=True)
class AuditFilter:
    """Which audit rows to list; all conditions must hold."""

    principal: str | None = None
    actor: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    before_id: int | None = None  # the pagination cursor: rows older than this id


async def list_entries(
    *, session: AsyncSession, where: AuditFilter, limit: int
) -> list[AuditEntry]:
    """Audit rows, newest first, at most `limit`."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if where.principal is not None:
        query = query.where(
            AuditEntry.target_kind == PRINCIPAL, AuditEntry.target == where.principal
        )
    if where.actor is not None:
        query = query.where(AuditEntry.actor == where.actor)
    if where.since is not None:
        query = query.where(AuditEntry.at >= utc(where.since))
    if where.until is not None:
        query = query.where(AuditEntry.at < utc(where.until))
    if where.before_id is not None:
        query = query.where(AuditEntry.id < where.before_id)
    return list((await session.scalars(query)).all())
