"""The admin API: every route under `/admin/v1` needs an `admin` key."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from service.api.admin import (
    audit,
    decision_records,
    keys,
    policies,
    principals,
    roles,
    tools,
)
from service.api.auth import require_admin

AUTH_RESPONSES: dict[int | str, dict[str, str]] = {
    401: {"description": "no key, or an unknown or revoked key"},
    403: {"description": "a `decide` key"},
    503: {"description": "the database is unavailable"},
}


def admin_router() -> APIRouter:
    """All admin routes; authentication sits on the router, so no route can miss it."""
    router = APIRouter(
        prefix="/admin/v1", dependencies=[Depends(require_admin)], responses=AUTH_RESPONSES
    )
    for module in (roles, principals, tools, policies, audit, decision_records, keys):
        router.include_router(module.router)
    return router
