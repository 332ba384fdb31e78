"""Roles and their nesting."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from service.api.admin.schemas import ROLE_PATTERN, RoleIn, RoleOut, RolePage, RolePath
from service.api.auth import AdminDep
from service.api.deps import SessionDep
from service.api.json_body import JsonRoute
from service.store import roles

router = APIRouter(tags=["admin: roles"], route_class=JsonRoute)


@router.put(
    "/roles/{role}",
    responses={
        404: {"description": "a parent role does not exist"},
        422: {"description": "a cycle"},
    },
)
async def put_role(role: RolePath, body: RoleIn, admin: AdminDep, session: SessionDep) -> RoleOut:
    """Create or update a role; `parents` replaces its inherited roles. Cycles are refused (422)."""
    await roles.put_role(
        session=session,
        name=role,
        description=body.description,
        parents=body.parents,
        actor=admin.actor,
    )
    return RoleOut(name=role, description=body.description, parents=sorted(set(body.parents)))


@router.get("/roles")
async def list_roles(
    session: SessionDep,
    after: Annotated[str | None, Query(pattern=ROLE_PATTERN, max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> RolePage:
    """Roles by name with their direct parents, `limit` per page."""
    page = await roles.list_roles(session=session, after=after, limit=limit)
    next_after = str(page[-1]["name"]) if len(page) == limit else None
    return RolePage(roles=[RoleOut.model_validate(r) for r in page], next_after=next_after)


@router.delete(
    "/roles/{role}",
    status_code=204,
    responses={404: {"description": "no such role"}, 409: {"description": "role in use"}},
)
async def delete_role(
    role: RolePath,
    admin: AdminDep,
    session: SessionDep,
    force: Annotated[bool, Query(description="also remove its assignments and nesting")] = False,
) -> Response:
    """Delete a role. While assigned or inherited: 409, unless `?force=true` removes those too."""
    await roles.delete_role(session=session, name=role, force=force, actor=admin.actor)
    return Response(status_code=204)
