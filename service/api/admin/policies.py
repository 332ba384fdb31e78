"""Policy status and reload."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from service.api.admin.schemas import PolicyStatus
from service.api.auth import AdminDep
from service.api.deps import PoliciesDep, ReloaderDep, SessionDep, SettingsDep
from service.api.json_body import JsonRoute
from service.policies.holder import PolicyHolder
from service.store import audit

router = APIRouter(tags=["admin: policies"], route_class=JsonRoute)


def _status(policies: PolicyHolder) -> PolicyStatus:
    snapshot = policies.current
    return PolicyStatus(
        version=snapshot.version if snapshot else None,
        policies=sorted(snapshot.policies) if snapshot else [],
        tools=len(snapshot.tools) if snapshot else 0,
        last_error=policies.last_error,
    )


@router.get("/policies")
async def policy_status(policies: PoliciesDep) -> PolicyStatus:
    """The active policy version, its policy ids, and the last load error (if the last failed)."""
    return _status(policies)


@router.post(
    "/policies/reload",
    response_model=PolicyStatus,
    responses={422: {"description": "invalid policies; the last good set keeps serving"}},
)
async def reload_policies(
    admin: AdminDep,
    session: SessionDep,
    settings: SettingsDep,
    policies: PoliciesDep,
    reloader: ReloaderDep,
) -> PolicyStatus | JSONResponse:
    """Recompile `policy_dir` against the registry and activate it; on error keep the last set."""
    before = policies.current.version if policies.current else None
    result = await reloader.reload()
    after = {
        "version": policies.current.version if policies.current else None,
        "error": None if result == "ok" else policies.last_error,
    }
    # The audit row records the attempt, whatever its outcome.
    await audit.record(
        session=session,
        actor=admin.actor,
        action="policies.reload",
        target_kind=audit.POLICIES,
        target=str(settings.policy_dir),
        before={"version": before},
        after=after,
    )
    status = _status(policies)
    if after["error"]:
        return JSONResponse(status.model_dump(), status_code=422)
    return status
