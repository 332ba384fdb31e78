"""`POST /v1/decisions`: parse, decide, answer. Every decision is a 200."""

from __future__ import annotations

from fastapi import APIRouter

from service.api.deps import DecisionServiceDep
from service.api.schemas import DecisionRequest, DecisionResponse
from service.decisions import Identity, Outcome
from service.engine.model import Action

router = APIRouter(prefix="/v1", tags=["decisions"])


def _action(body: DecisionRequest) -> Action:
    facts = body.context
    return Action(
        method=body.method,
        tool=body.tool,
        arguments=body.arguments,
        uri=body.uri,
        prompt=body.prompt,
        gateway=body.gateway,
        source_ip=facts.source_ip if facts else None,
        session_id=facts.session_id if facts else None,
    )


def decision_response(outcome: Outcome) -> DecisionResponse:
    decision = outcome.decision
    return DecisionResponse(
        decision="allow" if decision.allowed else "deny",
        decision_id=outcome.decision_id,
        reasons=list(decision.reasons),
        errors=list(decision.errors),
        code=decision.code,
        required_scopes=list(decision.required_scopes),
        policy_version=decision.policy_version,
        cached=False,
    )


@router.post("/decisions", response_model=DecisionResponse)
async def decide(body: DecisionRequest, service: DecisionServiceDep) -> DecisionResponse:
    """May this user make this MCP request? Allow or deny, with the reasons."""
    identity = Identity(token=body.token, claims=body.claims)
    return decision_response(await service.decide(identity, _action(body)))
