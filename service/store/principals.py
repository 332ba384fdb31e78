"""Principals: role assignments and attributes. Functions take `session`, never commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.engine.model import StoredPrincipal
from service.store.errors import NotFound
from service.store.models import Principal, PrincipalAttribute, Role, RoleAssignment
from service.store.roles import role_parents


async def load_principal(
    *, session: AsyncSession, principal_id: str, now: datetime
) -> StoredPrincipal:
    """Unexpired roles, attributes and the role graph for one decision."""
    roles = await session.scalars(
        select(RoleAssignment.role).where(
            RoleAssignment.principal_id == principal_id,
            or_(RoleAssignment.expires_at.is_(None), RoleAssignment.expires_at > now),
        )
    )
    attributes = await session.execute(
        select(PrincipalAttribute.name, PrincipalAttribute.value).where(
            PrincipalAttribute.principal_id == principal_id
        )
    )
    return StoredPrincipal(
        roles=frozenset(roles.all()),
        attributes={name: value for name, value in attributes.all()},
        role_parents=await role_parents(session=session),
    )


async def ensure_principal(*, session: AsyncSession, principal_id: str) -> Principal:
    """The principal row, created on first use."""
    if not 0 < len(principal_id) <= 256:
        raise ValueError("principal id must be 1-256 characters")
    principal = await session.get(Principal, principal_id)
    if principal is None:
        principal = Principal(id=principal_id)
        session.add(principal)
        await session.flush()
    return principal


async def assign_role(
    *,
    session: AsyncSession,
    principal_id: str,
    role: str,
    expires_at: datetime | None = None,
    reason: str = "",
) -> RoleAssignment:
    """Give a principal a role (idempotent: a second call updates expiry and reason)."""
    if await session.get(Role, role) is None:
        raise NotFound(f"role {role!r} does not exist")
    await ensure_principal(session=session, principal_id=principal_id)
    assignment = await session.get(RoleAssignment, (principal_id, role))
    if assignment is None:
        assignment = RoleAssignment(principal_id=principal_id, role=role)
        session.add(assignment)
    assignment.expires_at = expires_at
    assignment.reason = reason
    await session.flush()
    return assignment


async def set_attributes(
    *, session: AsyncSession, principal_id: str, changes: dict[str, Any]
) -> None:
    """Set attributes; a `None` value removes the attribute."""
    await ensure_principal(session=session, principal_id=principal_id)
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
