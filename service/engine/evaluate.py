"""One Cedar decision on a pre-parsed snapshot. Pure: no I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

import cedarpy

from service.engine.entities import build_entities
from service.engine.errors import EvaluationError, UnknownMethod, UnknownTool
from service.engine.input_types import convert
from service.engine.methods import METHOD_GROUPS, NAMESPACE, TOOL_CALL
from service.engine.model import Action, Decision, Principal, ShadowEffect, StoredPrincipal
from service.engine.policies import PolicySnapshot

_ERRORED_POLICY = re.compile(r"policy `([^`]+)`")


@dataclass(frozen=True)
class CedarRequest:
    """The Cedar request for an action, before entities are known."""

    action_id: str
    context: dict[str, Any]


def build_request(
    snapshot: PolicySnapshot, principal: Principal, action: Action, now: int
) -> CedarRequest:
    """Map an MCP action to a Cedar action and context; raises a DecisionError."""
    request: dict[str, Any] = {"time": now}
    for key in ("source_ip", "session_id", "uri", "prompt"):
        value = getattr(action, key)
        if value is not None:
            request[key] = value
    token = principal.token
    context: dict[str, Any] = {
        "token": {
            "scopes": sorted(token.scopes),
            "client_id": token.client_id,
            "issuer": token.issuer,
            "audience": token.audience,
            "expires_at": token.expires_at,
        },
        "request": request,
    }
    if action.method == TOOL_CALL:
        tool = snapshot.tools.get(action.tool or "")
        if tool is None:
            raise UnknownTool(f"tool {action.tool!r} is not registered")
        context["input"] = convert(tool.input_type, dict(action.arguments or {}))
        return CedarRequest(tool.name, context)
    if action.method not in METHOD_GROUPS:
        raise UnknownMethod(f"method {action.method!r} is not an MCP method mcp-pdp knows")
    return CedarRequest(action.method, context)


def evaluate(
    snapshot: PolicySnapshot,
    principal: Principal,
    stored: StoredPrincipal,
    request: CedarRequest,
    gateway: str,
) -> Decision:
    """Evaluate with Cedar and turn its answer into a Decision (fail closed).

    With `@mode("shadow")` policies loaded, the request is evaluated a second
    time with them enforced; that would-be outcome is attached, never used.
    """
    entities = build_entities(principal, stored, snapshot.user_attributes)
    cedar_request = {
        "principal": {"type": f"{NAMESPACE}::User", "id": principal.id},
        "action": {"type": f"{NAMESPACE}::Action", "id": request.action_id},
        "resource": {"type": f"{NAMESPACE}::Gateway", "id": gateway},
        "context": request.context,
    }
    decision = _evaluate_with(snapshot.policy_set, snapshot, principal, cedar_request, entities)
    if snapshot.shadow_set is None:
        return decision
    try:
        would_be = _evaluate_with(snapshot.shadow_set, snapshot, principal, cedar_request, entities)
    except EvaluationError:
        return decision
    shadow_ids = tuple(r for r in would_be.reasons if snapshot.policies[r].shadow)
    if shadow_ids or would_be.allowed != decision.allowed:
        return replace(decision, shadow=ShadowEffect(would_be.allowed, shadow_ids))
    return decision


def _evaluate_with(
    policy_set: cedarpy.PolicySet,
    snapshot: PolicySnapshot,
    principal: Principal,
    cedar_request: dict[str, Any],
    entities: list[dict[str, Any]],
) -> Decision:
    result = cedarpy.is_authorized(cedar_request, policy_set, entities, schema=snapshot.schema)
    errors = tuple(result.diagnostics.errors)
    reasons = tuple(result.diagnostics.reasons)
    version = snapshot.version
    if result.decision == cedarpy.Decision.NoDecision:
        raise EvaluationError("; ".join(errors) or "Cedar reached no decision")
    if result.decision == cedarpy.Decision.Allow:
        # Cedar skips a policy that errors; for a forbid that would turn a
        # deny into an allow, so an erroring forbid denies here.
        failed_forbids = [
            m.group(1)
            for e in errors
            if (m := _ERRORED_POLICY.search(e)) and _effect(snapshot, m.group(1)) != "permit"
        ]
        if failed_forbids:
            return Decision(False, version, (), errors, "evaluation_error")
        return Decision(True, version, reasons, errors)
    if not reasons:
        return Decision(False, version, (), errors, "evaluation_error" if errors else "no_policy")
    missing = {
        s for r in reasons if r in snapshot.policies for s in snapshot.policies[r].required_scopes
    }
    scopes = tuple(sorted(missing | principal.token.scopes)) if missing else ()
    return Decision(False, version, reasons, errors, None, scopes)


def _effect(snapshot: PolicySnapshot, policy_id: str) -> str | None:
    info = snapshot.policies.get(policy_id)
    return info.effect if info else None
