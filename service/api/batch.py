"""`POST /v1/decisions/batch`: one principal, many decisions, answered in order."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import ValidationError

from service.api.auth import CallerAccessDep, caller_access
from service.api.bulk_schemas import BatchItem, BatchRequest, BatchResponse
from service.api.decisions import decision_response
from service.api.deps import DecisionServiceDep, SettingsDep
from service.api.errors import FieldError
from service.api.json_body import JsonRoute
from service.api.schemas import to_action
from service.engine.errors import DecisionError, InvalidArguments
from service.engine.model import Action
from service.identity.resolver import Identity

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
    action, mismatch = to_action(
        item,
        item.context or body.context,
        item.gateway or body.gateway,
        item.meta if item.meta is not None else body.meta,
        item.headers if item.headers is not None else body.headers,
    )
    return mismatch or action


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
    if access.refused is not None:
        items = [access.refused for _ in items]
    identity = Identity(token=body.token, claims=body.claims)
    outcomes = await service.decide_many(identity, items, caller=access.key_id)
    return BatchResponse(decisions=[decision_response(o) for o in outcomes])
