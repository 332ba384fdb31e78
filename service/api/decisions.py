"""`POST /v1/decisions`: parse, decide, answer. Every decision is a 200."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from service import jsonio
from service.api.auth import CallerAccess, request_access
from service.api.json_body import JsonRoute
from service.api.schemas import DecisionRequest, DecisionResponse, to_action
from service.decide.outcome import Outcome
from service.identity.resolver import Identity
from service.runtime import Runtime, runtime_of

# The hot path: no dependencies to solve, so the route authenticates its caller
# itself (the other /v1 routes do it with a router dependency).
router = APIRouter(prefix="/v1", tags=["decisions"], route_class=JsonRoute)
AUTH_RESPONSES: dict[int | str, dict[str, str]] = {
    401: {"description": "`require_caller_key` is on and no valid key was sent"},
    403: {"description": "`claims` sent with a key not flagged `trusted_claims`"},
}


def _fields(outcome: Outcome) -> dict[str, Any]:
    """The fields of `DecisionResponse` for an outcome."""
    decision = outcome.decision
    return {
        "decision": decision.verdict,
        "decision_id": outcome.decision_id,
        "reasons": list(decision.reasons),
        "errors": list(decision.errors),
        "code": decision.code,
        "required_scopes": list(decision.required_scopes),
        "policy_version": decision.policy_version,
        "cached": outcome.cached,
    }


def decision_response(outcome: Outcome) -> DecisionResponse:
    """The response model of an outcome (batch answers embed it)."""
    return DecisionResponse.model_validate(_fields(outcome))


def decision_json(outcome: Outcome) -> bytes:
    """`decision_response(outcome)` as the JSON body, without building the model."""
    return jsonio.dumps(_fields(outcome))


@router.post("/decisions", response_model=DecisionResponse, responses=AUTH_RESPONSES)
async def decide(body: DecisionRequest, request: Request) -> Response:
    """May this user make this MCP request? Allow or deny, with the reasons.

    While `require_caller_key` is on, send `Authorization: Bearer <key>` (scope
    `decide` or `admin`); only keys made with `trusted_claims` may send `claims`.
    """
    runtime = runtime_of(request.app)
    access = await request_access(request, runtime)
    return Response(await answer(runtime, body, access), media_type="application/json")


async def answer(runtime: Runtime, body: DecisionRequest, access: CallerAccess) -> bytes:
    """The JSON answer to a valid request; HTTPException (403) for claims from an untrusted key."""
    if body.claims is not None:
        access.check_claims()
    action, mismatch = to_action(body, body.context, body.gateway, body.meta, body.headers)
    outcome = await runtime.decisions.decide(
        Identity(token=body.token, claims=body.claims),
        action,
        caller=access.key_id,
        refused=access.refused or mismatch,
    )
    return decision_json(outcome)
