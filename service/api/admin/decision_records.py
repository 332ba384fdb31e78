"""The decision log, queryable: who asked for what, and what was decided."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel

from service.api.admin.schemas import PRINCIPAL_PATTERN
from service.api.deps import SessionDep
from service.api.json_body import JsonRoute
from service.store.decision_records import DecisionFilter, list_decisions

router = APIRouter(tags=["admin: decisions"], route_class=JsonRoute)
DECISION_ID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
_SURROGATE = re.compile("[\ud800-\udfff]")


def _readable(value: Any) -> Any:
    """`value` with each lone surrogate as U+FFFD, which UTF-8 can carry.

    Rows logged before the edge refused surrogates may hold them (in argument
    names, say); one such row must not make the whole page fail.
    """
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_readable(item) for item in value]
    if isinstance(value, dict):
        return {_readable(key): _readable(item) for key, item in value.items()}
    return value


class LoggedDecision(BaseModel):
    """One decision as the log recorded it: no tokens, argument values only when configured."""

    decision_id: str
    time: datetime
    principal_id: str | None
    issuer: str
    client_id: str
    method: str
    tool: str | None
    gateway: str
    decision: str
    code: str | None
    reasons: list[str]
    shadow: dict[str, Any] | None
    policy_version: str
    cached: bool
    latency_us: int
    caller: str | None
    request_id: str | None
    argument_names: list[str]
    arguments: dict[str, Any]


class DecisionPage(BaseModel):
    """Decisions, newest first; pass `next_cursor` as `cursor` for older ones."""

    decisions: list[LoggedDecision]
    next_cursor: str | None


@router.get("/decisions")
async def get_decisions(
    session: SessionDep,
    principal: Annotated[str | None, Query(pattern=PRINCIPAL_PATTERN)] = None,
    tool: Annotated[str | None, Query(max_length=128)] = None,
    decision: Literal["allow", "deny"] | None = None,
    code: Annotated[str | None, Query(max_length=32, examples=["no_policy"])] = None,
    since: Annotated[AwareDatetime | None, Query(description="at or after this time")] = None,
    until: Annotated[AwareDatetime | None, Query(description="before this time")] = None,
    cursor: Annotated[str | None, Query(pattern=DECISION_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> DecisionPage:
    """Logged decisions, newest first; filter by principal, tool, outcome, code and time."""
    where = DecisionFilter(principal, tool, decision, code, since, until, cursor)
    rows = await list_decisions(session=session, where=where, limit=limit)
    decisions = [
        LoggedDecision.model_validate(
            {
                **{c: _readable(getattr(r, c)) for c in LoggedDecision.model_fields},
                "time": r.time if r.time.tzinfo else r.time.replace(tzinfo=UTC),
            }
        )
        for r in rows
    ]
    return DecisionPage(
        decisions=decisions, next_cursor=rows[-1].decision_id if len(rows) == limit else None
    )
