"""Roles and their nesting. Functions take `session` and never commit."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.store.errors import Conflict, NotFound
from service.store.models import Role, RoleParent

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


async def put_role(
    *, session: AsyncSession, name: str, description: str = "", parents: Iterable[str] = ()
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
            raise Conflict(f"role {name!r} cannot inherit {parent!r}: that would make a cycle")
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
    return role
