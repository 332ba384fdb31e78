"""Roles and their nesting. Functions take `session` and never commit."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.store import audit
from service.store.errors import Conflict, Invalid, NotFound
from service.store.models import Role, RoleAssignment, RoleParent

ROLE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@\-]{0,127}")


def check_role_name(name: str) -> str:
    """Return `name` if it is a valid role name, else raise ValueError."""
    if not ROLE_NAME.fullmatch(name):
        raise ValueError(
            f"role name {name!r}: 1-128 characters of A-Z a-z 0-9 _ . : @ -, "
            "starting with a letter or digit"
        )
    return name


async def role_parents(*, session: AsyncSession) -> dict[str, frozenset[str]]:
    """The whole role graph: role → its direct parents."""
    graph: dict[str, set[str]] = {}
    for role, parent in (await session.execute(select(RoleParent.role, RoleParent.parent))).all():
        graph.setdefault(role, set()).add(parent)
    return {role: frozenset(parents) for role, parents in graph.items()}


async def role_names(*, session: AsyncSession) -> list[str]:
    """Every role's name, sorted."""
    return list((await session.scalars(select(Role.name).order_by(Role.name))).all())


def _reaches(graph: Mapping[str, Iterable[str]], start: str, target: str) -> bool:
    seen: set[str] = set()
    pending = [start]
    while pending:
        node = pending.pop()
        if node == target:
            return True
        if node not in seen:
            seen.add(node)
            pending.extend(graph.get(node, ()))
    return False


async def role_view(*, session: AsyncSession, name: str) -> dict[str, object] | None:
    """A role's description and direct parents, or None if it does not exist."""
    role = await session.get(Role, name)
    if role is None:
        return None
    parents = await session.scalars(
        select(RoleParent.parent).where(RoleParent.role == name).order_by(RoleParent.parent)
    )
    return {"name": name, "description": role.description, "parents": list(parents.all())}


async def put_role(
    *,
    session: AsyncSession,
    name: str,
    description: str = "",
    parents: Iterable[str] = (),
    actor: str = "system",
) -> Role:
    """Create or update a role and replace its parents; refuses cycles and unknown parents."""
    check_role_name(name)
    parents = sorted(set(parents))
    if parents:
        known = set((await session.scalars(select(Role.name).where(Role.name.in_(parents)))).all())
        unknown = [p for p in parents if p not in known]
        if unknown:
            raise NotFound(f"parent role {unknown[0]!r} does not exist")
    graph = {r: set(p) for r, p in (await role_parents(session=session)).items()}
    graph[name] = set(parents)
    for parent in parents:
        if _reaches(graph, parent, name):
            raise Invalid(f"role {name!r} cannot inherit {parent!r}: that would make a cycle")
    before = await role_view(session=session, name=name)
    role = await session.get(Role, name)
    if role is None:
        role = Role(name=name, description=description)
        session.add(role)
    else:
        role.description = description
    await session.flush()
    await session.execute(delete(RoleParent).where(RoleParent.role == name))
    session.add_all(RoleParent(role=name, parent=p) for p in parents)
    await session.flush()
    after = {"name": name, "description": description, "parents": parents}
    if after != before:
        await audit.record(
            session=session,
            actor=actor,
            action="role.put",
            target_kind=audit.ROLE,
            target=name,
            before=before,
            after=after,
        )
    return role


async def list_roles(
    *, session: AsyncSession, after: str | None, limit: int
) -> list[dict[str, object]]:
    """Roles by name with their parents, at most `limit`, starting after `after`."""
    query = select(Role).order_by(Role.name).limit(limit)
    if after is not None:
        query = query.where(Role.name > after)
    roles = list((await session.scalars(query)).all())
    graph = await role_parents(session=session)
    return [
        {"name": r.name, "description": r.description, "parents": sorted(graph.get(r.name, ()))}
        for r in roles
    ]


async def delete_role(*, session: AsyncSession, name: str, force: bool, actor: str) -> None:
    """Delete a role; Conflict while assigned or inherited unless `force`, which removes those."""
    before = await role_view(session=session, name=name)
    if before is None:
        raise NotFound(f"role {name!r} does not exist")
    holders = list(
        (
            await session.scalars(
                select(RoleAssignment.principal_id)
                .where(RoleAssignment.role == name)
                .order_by(RoleAssignment.principal_id)
            )
        ).all()
    )
    children = list(
        (
            await session.scalars(
                select(RoleParent.role).where(RoleParent.parent == name).order_by(RoleParent.role)
            )
        ).all()
    )
    if (holders or children) and not force:
        raise Conflict(
            f"role {name!r} is in use: {len(holders)} assignments, {len(children)} roles "
            "inherit it; delete with ?force=true to remove those too"
        )
    # Explicit deletes, not only ON DELETE CASCADE: the audit row lists what went.
    await session.execute(delete(RoleAssignment).where(RoleAssignment.role == name))
    await session.execute(
        delete(RoleParent).where((RoleParent.role == name) | (RoleParent.parent == name))
    )
    await session.execute(delete(Role).where(Role.name == name))
    await audit.record(
        session=session,
        actor=actor,
        action="role.delete",
        target_kind=audit.ROLE,
        target=name,
        before={**before, "assigned_to": holders, "inherited_by": children},
    )
