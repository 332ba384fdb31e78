"""AuthZEN 1.0 routes: `/access/v1/...` and the PDP metadata (docs/authzen.md).

Callers authenticate as on `/v1` (a `decide` or `admin` key while
`require_caller_key` is on); a subject given by claims, not by a token, needs
a key trusted for claims, and so does every subject search.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from service.api.auth import CallerAccess, CallerAccessDep, caller_access
from service.api.authzen import search
from service.api.authzen.evaluate import Evaluator, Item, item_of, merged
from service.api.authzen.mapping import sends_claims
from service.api.authzen.models import (
    ActionSearch,
    Evaluation,
    Evaluations,
    ResourceSearch,
    SubjectSearch,
)
from service.api.authzen.paging import cursor_of, following, page_of
from service.api.authzen.route import AuthzenRoute
from service.api.deps import DecisionServiceDep, SessionsDep, SettingsDep
from service.api.errors import FieldError
from service.decide.outcome import version_of
from service.decide.service import DecisionService

PREFIX = "/access/v1"
METADATA_PATH = "/.well-known/authzen-configuration"
ENDPOINTS = {
    "access_evaluation_endpoint": "/evaluation",
    "access_evaluations_endpoint": "/evaluations",
    "search_subject_endpoint": "/search/subject",
    "search_resource_endpoint": "/search/resource",
    "search_action_endpoint": "/search/action",
}
RESPONSES: dict[int | str, dict[str, str]] = {
    400: {"description": "a required member is missing or malformed, or the body is not JSON"},
    401: {"description": "`require_caller_key` is on and no valid key was sent"},
    403: {"description": "a subject given by claims, from a key not flagged `trusted_claims`"},
}
router = APIRouter(
    prefix=PREFIX,
    tags=["authzen"],
    dependencies=[Depends(caller_access)],
    route_class=AuthzenRoute,
    responses=RESPONSES,
)
metadata_router = APIRouter(tags=["authzen"])


def _check_claims(access: CallerAccess, evaluations: list[Evaluation]) -> None:
    """403 when any subject is claims and the caller may not send claims."""
    if any(sends_claims(e.subject) for e in evaluations):
        access.check_claims()


@router.post("/evaluation")
async def evaluation(
    body: Evaluation, service: DecisionServiceDep, access: CallerAccessDep
) -> JSONResponse:
    """May this subject do this MCP action? `{"decision": bool, "context": {...}}`, a deny a 200.

    A `tools/call` with `resource.properties.arguments` is decided as `/v1/decisions`
    decides it; without arguments, as `/v1/tools/filter` lists the tool (`partial`).
    """
    _check_claims(access, [body])
    return JSONResponse(await Evaluator(service, access).one(item_of(body)))


@router.post("/evaluations")
async def evaluations(
    body: Evaluations, service: DecisionServiceDep, settings: SettingsDep, access: CallerAccessDep
) -> JSONResponse:
    """Many evaluations, answered in order; a bad item is a deny for that item only.

    `options.evaluations_semantic`: `execute_all` (default) answers every item;
    `deny_on_first_deny` and `permit_on_first_permit` stop at the deciding item,
    which the answer ends with. Without `evaluations`, one evaluation's answer.
    """
    if not body.evaluations:
        try:
            single = Evaluation.model_validate(body.model_dump(exclude_none=True))
        except ValidationError as exc:
            raise RequestValidationError(exc.errors()) from None
        _check_claims(access, [single])
        return JSONResponse(await Evaluator(service, access).one(item_of(single)))
    if len(body.evaluations) > settings.max_batch_requests:
        raise FieldError("evaluations", f"more than {settings.max_batch_requests} evaluations")
    requests = [merged(body, i, raw) for i, raw in enumerate(body.evaluations)]
    _check_claims(access, [r for r in requests if isinstance(r, Evaluation)])
    items = [item_of(r) if isinstance(r, Evaluation) else Item(None, r) for r in requests]
    semantic = body.options.evaluations_semantic if body.options else "execute_all"
    answers = await Evaluator(service, access).until(items, semantic)
    return JSONResponse({"evaluations": answers})


def _context(service: DecisionService) -> dict[str, Any]:
    return {"policy_version": version_of(service.snapshot)}


@router.post("/search/action")
async def search_action(
    body: ActionSearch, service: DecisionServiceDep, access: CallerAccessDep
) -> JSONResponse:
    """The MCP methods this subject may use on the resource; on an `mcp_server`, also
    `tools/call` once per tool its `tools/list` would show (`properties.tool`)."""
    if sends_claims(body.subject):
        access.check_claims()
    cursor = cursor_of(body, body.page)
    found = following(cursor, await search.actions(service, access, body))
    return JSONResponse(page_of(cursor, found, _context(service)))


@router.post("/search/resource")
async def search_resource(
    body: ResourceSearch, service: DecisionServiceDep, access: CallerAccessDep
) -> JSONResponse:
    """The registered tools (type `tool`, action `tools/call`) this subject may call."""
    if sends_claims(body.subject):
        access.check_claims()
    cursor = cursor_of(body, body.page)
    found = following(cursor, await search.resources(service, access, body))
    return JSONResponse(page_of(cursor, found, _context(service)))


@router.post("/search/subject")
async def search_subject(
    body: SubjectSearch,
    service: DecisionServiceDep,
    sessions: SessionsDep,
    access: CallerAccessDep,
) -> JSONResponse:
    """Principals of the role database holding a role that could reach the action, by id.

    Needs a key trusted for claims: the answer names users. Grants by claims or
    attributes are not seen (docs/authzen.md).
    """
    access.check_claims()
    cursor = cursor_of(body, body.page)
    found = await search.subjects(service, sessions, access, body, cursor)
    return JSONResponse(page_of(cursor, found, _context(service)))


@metadata_router.get(METADATA_PATH)
async def metadata(request: Request, settings: SettingsDep) -> JSONResponse:
    """AuthZEN PDP metadata: the PDP's identifier and its endpoints, as absolute URLs.

    The identifier is `authzen_pdp_url` when set, else this request's scheme and host.
    """
    base = settings.authzen_pdp_url or str(request.base_url).rstrip("/")
    document = {"policy_decision_point": base}
    document.update({name: f"{base}{PREFIX}{path}" for name, path in ENDPOINTS.items()})
    return JSONResponse(document)
