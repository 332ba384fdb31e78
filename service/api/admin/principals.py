"""Principals: role assignments and attributes."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response

from service.api.admin.schemas import (
    AssignmentIn,
    AttributeChanges,
    PrincipalOut,
    PrincipalPath,
    RolePath,
)
from service.api.auth import AdminDep
from service.api.deps import PoliciesDep, SessionDep
from service.api.json_body import JsonRoute
from service.engine.attribute_values import attribute_errors
from service.store import principals
from service.store.errors import Invalid

router = APIRouter(tags=["admin: principals"], route_class=JsonRoute)


@router.put(
    "/principals/{principal_id}/roles/{role}",
    responses={404: {"description": "no such role"}},
)
async def assign_role(
    principal_id: PrincipalPath,
    role: RolePath,
    admin: AdminDep,
    session: SessionDep,
    body: AssignmentIn | None = None,
) -> PrincipalOut:
    """Give a principal a role; idempotent (a repeat updates expiry and reason).

    An `expires_at` in the past is accepted and stored but grants nothing.
    """
    body = body or AssignmentIn()
    await principals.assign_role(
        session=session,
        principal_id=principal_id,
        role=role,
        expires_at=body.expires_at,
        reason=body.reason,
        actor=admin.actor,
    )
    return PrincipalOut.model_validate(
        await principals.principal_view(session=session, principal_id=principal_id)
    )


@router.delete("/principals/{principal_id}/roles/{role}", status_code=204)
async def revoke_role(
    principal_id: PrincipalPath, role: RolePath, admin: AdminDep, session: SessionDep
) -> Response:
    """Take a role away; idempotent (204 whether or not it was held)."""
    await principals.revoke_role(
        session=session, principal_id=principal_id, role=role, actor=admin.actor
    )
    return Response(status_code=204)


@router.get("/principals/{principal_id}", responses={404: {"description": "nothing stored"}})
async def get_principal(principal_id: PrincipalPath, session: SessionDep) -> PrincipalOut:
    """A principal's roles (expired ones marked inactive) and attributes."""
    return PrincipalOut.model_validate(
        await principals.principal_view(session=session, principal_id=principal_id)
    )


@router.patch(
    "/principals/{principal_id}/attributes",
    responses={422: {"description": "undeclared attribute or wrong type"}},
)
async def patch_attributes(
    principal_id: PrincipalPath,
    body: AttributeChanges,
    admin: AdminDep,
    session: SessionDep,
    policies: PoliciesDep,
) -> PrincipalOut:
    """Set attributes (`null` removes one). Values must fit the User type in the schema."""
    snapshot = policies.current
    if snapshot is None:
        raise HTTPException(503, "no policy set is loaded, so attribute types are unknown")
    errors = attribute_errors(body.root, snapshot.user_attributes)
    if errors:
        raise Invalid("; ".join(errors))
    await principals.set_attributes(
        session=session, principal_id=principal_id, changes=body.root, actor=admin.actor
    )
    return PrincipalOut.model_validate(
        await principals.principal_view(session=session, principal_id=principal_id)
    )
