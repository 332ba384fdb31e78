"""`POST /v1/decisions/batch` and `POST /v1/tools/filter`: one principal, many answers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import ValidationError

from service.api.auth import CallerAccessDep, caller_access
from service.api.bulk_schemas import (
    BatchItem,
    BatchRequest,
    BatchResponse,
    FilterRequest,
    FilterResponse,
)
from service.api.decisions import decision_response
from service.api.deps import DecisionServiceDep, SettingsDep
from service.api.errors import FieldError
from service.api.json_body import JsonRoute
from service.api.listing import answer, raw_tools, tool_names, tools_path
from service.api.schemas import to_action
from service.decide.bulk import decide_batch, filter_listing, withhold_all
from service.decide.service import Identity
from service.engine.errors import DecisionError, InvalidArguments, StoreUnavailable
from service.engine.model import Action

# Like /v1/decisions: every route authenticates its caller when keys are required.
router = APIRouter(
    prefix="/v1", tags=["decisions"], dependencies=[Depends(caller_access)], route_class=JsonRoute
)


def _item(raw: Any, body: BatchRequest) -> Action | DecisionError:
    try:
        item = BatchItem.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "request"
        return InvalidArguments(f"{where}: {first.get('msg', 'invalid')}")
    return to_action(item, item.context or body.context, item.gateway or body.gateway)


@router.post("/decisions/batch", response_model=BatchResponse)
async def decide_many(
    body: BatchRequest, service: DecisionServiceDep, settings: SettingsDep, access: CallerAccessDep
) -> BatchResponse:
    """Decide up to `max_batch_requests` MCP requests of one user, answered in order.

    A malformed or undecidable item is a deny with a code; the others are unaffected.
    """
    if len(body.requests) > settings.max_batch_requests:
        raise FieldError("requests", f"more than {settings.max_batch_requests} requests")
    if body.claims is not None:
        access.check_claims()
    items: list[Action | DecisionError] = [_item(raw, body) for raw in body.requests]
    if access.store_unavailable:
        down = StoreUnavailable("the key store could not be read to authenticate the caller")
        items = [down for _ in items]
    caller = access.caller.key_id if access.caller else None
    identity = Identity(token=body.token, claims=body.claims)
    outcomes = await decide_batch(service, identity, items, caller=caller)
    return BatchResponse(decisions=[decision_response(o) for o in outcomes])


@router.post("/tools/filter", response_model=FilterResponse)
async def filter_tools(
    request: Request,
    body: FilterRequest,
    service: DecisionServiceDep,
    settings: SettingsDep,
    access: CallerAccessDep,
) -> Response:
    """The tools this user may call, byte-for-byte as sent, and the names withheld.

    A tool is listed when some call to it could be allowed (its arguments are not
    known yet) and withheld when a forbid applies whatever the arguments, no
    permit can apply, or it is not registered (`unknown_tool`).
    """
    path, tools = tools_path(body)
    names = tool_names(path, tools, settings.max_filter_tools)
    if body.claims is not None:
        access.check_claims()
    facts = body.context.model_dump(exclude_none=True) if body.context else {}
    identity = Identity(token=body.token, claims=body.claims)
    if access.store_unavailable:  # fail closed: list nothing
        listing = withhold_all(service, names, "store_unavailable")
    else:
        listing = await filter_listing(service, identity, names, body.gateway, facts)
    try:
        raw_body = (await request.body()).decode("utf-8")
    except UnicodeDecodeError:
        raw_body = ""
    texts = raw_tools(raw_body, path, tools)
    listed = [text for text, v in zip(texts, listing.verdicts, strict=True) if v.listed]
    withheld = [v for v in listing.verdicts if not v.listed]
    fields = {
        "withheld": [v.name for v in withheld],
        "details": [{"name": v.name, "code": v.code, "reasons": list(v.reasons)} for v in withheld],
        "decision_id": listing.decision_id,
        "policy_version": listing.policy_version,
    }
    return Response(answer(body, path, listed, fields), media_type="application/json")
