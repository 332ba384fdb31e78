"""The audit log of admin writes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from service.api.admin.schemas import PRINCIPAL_PATTERN, AuditOut, AuditPage
from service.api.deps import SessionDep
from service.api.json_body import JsonRoute
from service.store.audit import AuditFilter, list_entries, utc

router = APIRouter(tags=["admin: audit"], route_class=JsonRoute)


@router.get("/audit")
async def get_audit(
    session: SessionDep,
    principal: Annotated[str | None, Query(pattern=PRINCIPAL_PATTERN)] = None,
    actor: Annotated[str | None, Query(max_length=256, examples=["key:0123456789abcdef"])] = None,
    since: Annotated[AwareDatetime | None, Query(description="at or after this time")] = None,
    until: Annotated[AwareDatetime | None, Query(description="before this time")] = None,
    cursor: Annotated[int | None, Query(ge=1, description="`next_cursor` of the last page")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditPage:
    """Who changed what and when, newest first; filter by principal, actor and time."""
    where = AuditFilter(principal, actor, since, until, cursor)
    rows = await list_entries(session=session, where=where, limit=limit)
    entries = [
        AuditOut(
            id=r.id,
            at=utc(r.at),
            actor=r.actor,
            action=r.action,
            target_kind=r.target_kind,
            target=r.target,
            before=r.before,
            after=r.after,
        )
        for r in rows
    ]
    return AuditPage(entries=entries, next_cursor=rows[-1].id if len(rows) == limit else None)
