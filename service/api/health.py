"""Liveness and readiness."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from service.api.deps import DatabaseDep, PoliciesDep
from service.api.json_body import JsonRoute

router = APIRouter(tags=["operations"], route_class=JsonRoute)
DB_CHECK_SECONDS = 2.0


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(policies: PoliciesDep, engine: DatabaseDep) -> JSONResponse:
    """Ready when a policy set is active and the database answers."""
    checks: dict[str, str] = {}
    snapshot = policies.current
    checks["policies"] = "ok" if snapshot else f"not loaded: {policies.last_error or 'pending'}"
    try:
        async with asyncio.timeout(DB_CHECK_SECONDS):
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    body = {
        "status": "ready" if ready else "not ready",
        "checks": checks,
        "policy_version": snapshot.version if snapshot else None,
        "policy_error": policies.last_error,
    }
    return JSONResponse(body, status_code=200 if ready else 503)
