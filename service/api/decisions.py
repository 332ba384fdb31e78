"""`POST /v1/decisions`: parse, decide, answer. Every decision is a 200."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.datastructures import State

from service import jsonio
from service.api.auth import bearer_key, check_caller
from service.api.json_body import JsonRoute
from service.api.schemas import DecisionRequest, DecisionResponse, to_action
from service.decide.service import (
    NO_POLICY_VERSION,
    DecisionService,
    Identity,
    Outcome,
    new_decision_id,
)
from service.engine.model import Decision
from service.policies.holder import PolicyHolder

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
        "decision": "allow" if decision.allowed else "deny",
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


def _key_store_down(policies: PolicyHolder) -> Outcome:
    version = policies.current.version if policies.current else NO_POLICY_VERSION
    message = "the key store could not be read to authenticate the caller"
    return Outcome(new_decision_id(), Decision.deny("store_unavailable", message, version), None)


@router.post("/decisions", response_model=DecisionResponse, responses=AUTH_RESPONSES)
async def decide(body: DecisionRequest, request: Request) -> Response:
    """May this user make this MCP request? Allow or deny, with the reasons.

    While `require_caller_key` is on, send `Authorization: Bearer <key>` (scope
    `decide` or `admin`); only keys made with `trusted_claims` may send `claims`.
    """
    answer = await decide_body(request.app.state, body, request.headers.get("authorization"))
    return Response(answer, media_type="application/json")


async def decide_body(state: State, body: DecisionRequest, authorization: str | None) -> bytes:
    """The JSON answer to a valid request; raises HTTPException (401, 403) for the caller."""
    access = await check_caller(
        state.settings, state.sessions, state.changes, bearer_key(authorization)
    )
    if access.store_unavailable:
        return decision_json(_key_store_down(state.policies))
    if body.claims is not None:
        access.check_claims()
    identity = Identity(token=body.token, claims=body.claims)
    caller = access.caller.key_id if access.caller else None
    service: DecisionService = state.decisions
    action = to_action(body, body.context, body.gateway)
    return decision_json(await service.decide(identity, action, caller=caller))
