"""`POST /v1/tools/filter`: the tools of a listing one principal may call."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from service.api.auth import CallerAccessDep, caller_access
from service.api.bulk_schemas import FilterRequest, FilterResponse
from service.api.deps import DecisionServiceDep, SettingsDep
from service.api.json_body import JsonRoute
from service.api.listing import answer, raw_tools, tool_names, tools_path
from service.engine.revisions import listing_received
from service.identity.resolver import Identity

router = APIRouter(
    prefix="/v1", tags=["decisions"], dependencies=[Depends(caller_access)], route_class=JsonRoute
)


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
    headers = body.headers.engine() if body.headers else None
    version, revision, mismatch = listing_received(body.meta, headers)
    identity = Identity(token=body.token, claims=body.claims)
    # A caller whose key could not be checked, or headers that disagree with the
    # listing's request, are refused: every tool withheld.
    listing = await service.filter_tools(
        identity, names, body.gateway, {**facts, **revision}, refused=access.refused or mismatch
    )
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
        "max_ttl_ms": int(settings.cache_ttl_seconds * 1000),
        "decision_id": listing.decision_id,
        "policy_version": listing.policy_version,
    }
    return Response(answer(body, path, listed, fields, version), media_type="application/json")
