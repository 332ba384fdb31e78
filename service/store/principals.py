"""Principals: role assignments and attributes. Functions take `session`, never commit."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from service.engine.model import StoredPrincipal
from service.store import audit
from service.store.audit import utc
from service.store.errors import NotFound
from service.store.models import (
    PRINCIPAL_ID,
    Principal,
    PrincipalAttribute,
    Role,
    RoleAssignment,
)
from service.store.roles import role_parents


async def load_principal(
    *, session: AsyncSession, principal_id: str, now: datetime
) -> StoredPrincipal:
    """Unexpired roles, attributes and the role graph for one decision."""
    roles = (
        await session.execute(
            select(RoleAssignment.role, RoleAssignment.expires_at).where(
                RoleAssignment.principal_id == principal_id,
                or_(RoleAssignment.expires_at.is_(None), RoleAssignment.expires_at > now),
            )
        )
    ).all()
    expiries = [utc(expires).timestamp() for _, expires in roles if expires is not None]
    attributes = await session.execute(
        select(PrincipalAttribute.name, PrincipalAttribute.value).where(
            PrincipalAttribute.principal_id == principal_id
        )
    )
    return StoredPrincipal(
        roles=frozenset(role for role, _ in roles),
        attributes={name: value for name, value in attributes.all()},
        role_parents=await role_parents(session=session),
        roles_valid_until=min(expiries, default=None),
    )


async def principals_holding(
    *,
    session: AsyncSession,
    roles: Collection[str] | None,
    now: datetime,
    after: str | None,
    limit: int,
) -> list[str]:
    """Up to `limit` principal ids after `after`, in id order: those holding one of
    `roles` (directly, unexpired), or every principal when `roles` is None."""
    if roles is None:
        query = select(Principal.id.label("id"))
        column = Principal.id
    else:
        query = (
            select(RoleAssignment.principal_id.label("id"))
            .where(
                RoleAssignment.role.in_(sorted(roles)),
                or_(RoleAssignment.expires_at.is_(None), RoleAssignment.expires_at > now),
            )
            .distinct()
        )
        column = RoleAssignment.principal_id
    if after is not None:
        query = query.where(column > after)
    rows = await session.scalars(query.order_by(column).limit(limit))
    return list(rows.all())


def _insert(session: AsyncSession, table: type[Any]) -> Any:
    """INSERT that can say ON CONFLICT DO NOTHING on both databases."""
    dialect = session.get_bind().dialect.name
    return (pg_insert if dialect == "postgresql" else sqlite_insert)(table)


async def ensure_principal(*, session: AsyncSession, principal_id: str) -> None:
    """The principal row, created on first use; safe when two requests race to create it."""
    if not 0 < len(principal_id) <= PRINCIPAL_ID:
        raise ValueError(f"principal id must be 1-{PRINCIPAL_ID} characters")
    await session.execute(
        _insert(session, Principal).values(id=principal_id).on_conflict_do_nothing()
    )


def _assignment(expires_at: datetime | None, reason: str) -> dict[str, Any]:
    return {"expires_at": expires_at.isoformat() if expires_at else None, "reason": reason}


async def assign_role(
    *,
    session: AsyncSession,
    principal_id: str,
    role: str,
    expires_at: datetime | None = None,
    reason: str = "",
    actor: str = "system",
) -> bool:
    """Give a principal a role; idempotent, a repeat updates expiry and reason.

    Returns whether anything changed. Concurrent identical assignments make one
    row and one audit row: the loser's INSERT waits for the winner's commit,
    then finds the same values and writes nothing.
    """
    if await session.get(Role, role) is None:
        raise NotFound(f"role {role!r} does not exist")
    expires_at = utc(expires_at) if expires_at else None
    await ensure_principal(session=session, principal_id=principal_id)
    after = _assignment(expires_at, reason)
    key = {"principal_id": principal_id, "role": role}
    inserted = await session.execute(
        _insert(session, RoleAssignment)
        .values(**key, expires_at=expires_at, reason=reason)
        .on_conflict_do_nothing()
        .returning(RoleAssignment.role)
    )
    before: dict[str, Any] | None = None
    if inserted.first() is None:
        current = (
            await session.execute(
                select(RoleAssignment.expires_at, RoleAssignment.reason)
                .filter_by(**key)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).one()
        before = _assignment(utc(current[0]) if current[0] else None, current[1])
        if before == after:
            return False
        await session.execute(
            update(RoleAssignment).filter_by(**key).values(expires_at=expires_at, reason=reason)
        )
    await audit.record(
        session=session,
        actor=actor,
        action="role.assign",
        target_kind=audit.PRINCIPAL,
        target=principal_id,
        before={"role": role, **before} if before else None,
        after={"role": role, **after},
    )
    return True


async def revoke_role(
    *, session: AsyncSession, principal_id: str, role: str, actor: str = "system"
) -> bool:
    """Take a role away; idempotent. Returns whether the principal held it."""
    removed = (
        await session.execute(
            delete(RoleAssignment)
            .filter_by(principal_id=principal_id, role=role)
            .returning(RoleAssignment.expires_at, RoleAssignment.reason)
        )
    ).first()
    if removed is None:
        return False
    await audit.record(
        session=session,
        actor=actor,
        action="role.revoke",
        target_kind=audit.PRINCIPAL,
        target=principal_id,
        before={"role": role, **_assignment(utc(removed[0]) if removed[0] else None, removed[1])},
    )
    return True


async def principal_view(*, session: AsyncSession, principal_id: str) -> dict[str, Any]:
    """A principal's assignments (expired ones included, marked) and attributes."""
    if await session.get(Principal, principal_id) is None:
        raise NotFound(f"principal {principal_id!r} is not in the database")
    now = datetime.now(UTC)
    rows = await session.execute(
        select(RoleAssignment.role, RoleAssignment.expires_at, RoleAssignment.reason)
        .where(RoleAssignment.principal_id == principal_id)
        .order_by(RoleAssignment.role)
    )
    roles = [
        {
            "role": role,
            "expires_at": utc(expires) if expires else None,
            "active": expires is None or utc(expires) > now,
            "reason": reason,
        }
        for role, expires, reason in rows.all()
    ]
    attributes = await _attributes(session, principal_id)
    return {"id": principal_id, "roles": roles, "attributes": attributes}


async def _attributes(session: AsyncSession, principal_id: str) -> dict[str, Any]:
    rows = await session.execute(
        select(PrincipalAttribute.name, PrincipalAttribute.value)
        .where(PrincipalAttribute.principal_id == principal_id)
        .order_by(PrincipalAttribute.name)
    )
    return {name: value for name, value in rows.all()}


async def set_attributes(
    *, session: AsyncSession, principal_id: str, changes: dict[str, Any], actor: str = "system"
) -> dict[str, Any]:
    """Set attributes; a `None` value removes the attribute. Returns them all afterwards."""
    await ensure_principal(session=session, principal_id=principal_id)
    before = await _attributes(session, principal_id)
    for name, value in changes.items():
        row = await session.get(PrincipalAttribute, (principal_id, name))
        if value is None:
            if row is not None:
                await session.delete(row)
        elif row is None:
            session.add(PrincipalAttribute(principal_id=principal_id, name=name, value=value))
        else:
            row.value = value
    await session.flush()
    after = await _attributes(session, principal_id)
    if after != before:
        await audit.record(
            session=session,
            actor=actor,
            action="attributes.set",
            target_kind=audit.PRINCIPAL,
            target=principal_id,
            before={n: before.get(n) for n in changes},
            after={n: after.get(n) for n in changes},
        )
    return after
