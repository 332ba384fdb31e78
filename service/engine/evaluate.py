"""Cedar decisions on a pre-parsed snapshot: one, or many for one principal. Pure: no I/O."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import cedarpy

from service.engine.cedar_errors import only_permits_failed
from service.engine.entities import build_entities
from service.engine.errors import EvaluationError, InvalidArguments, UnknownMethod, UnknownTool
from service.engine.methods import (
    LISTEN,
    METHOD_GROUPS,
    NAMESPACE,
    REQUIRED_FIELDS,
    RESOURCES,
    TOOL_CALL,
)
from service.engine.model import Action, Decision, Principal, ShadowEffect, StoredPrincipal
from service.engine.paths import uri_facts
from service.engine.policies import PolicySnapshot
from service.engine.revisions import revision_facts
from service.engine.subscriptions import combined, resource_parts, subscription_facts

STEP_UP_ROUNDS = 3  # scope forbids behind scope forbids; more is a policy smell


@dataclass(frozen=True)
class CedarRequest:
    """The Cedar request for an action, before entities are known."""

    action_id: str
    context: dict[str, Any]


def token_context(principal: Principal, scopes: Sequence[str] | None = None) -> dict[str, Any]:
    """`context.token` for a principal, optionally with other scopes."""
    token = principal.token
    return {
        "scopes": sorted(token.scopes if scopes is None else scopes),
        "client_id": token.client_id,
        "issuer": token.issuer,
        "audience": token.audience,
        "expires_at": token.expires_at,
    }


def request_record(snapshot: PolicySnapshot, facts: dict[str, Any]) -> dict[str, Any]:
    """`context.request`: the facts the stub's `RequestInfo` declares.

    A fact the stub does not declare could not be read by a valid policy, and
    Cedar refuses a context holding it; so a stub written before a fact was
    added (`protocol_version`, say) keeps working without it.
    """
    declared = snapshot.request_attributes
    if declared is None:
        return facts
    return {k: v for k, v in facts.items() if k == "time" or k in declared}


def build_request(
    snapshot: PolicySnapshot, principal: Principal, action: Action, now: int
) -> CedarRequest:
    """Map an MCP action to a Cedar action and context; raises a DecisionError."""
    facts: dict[str, Any] = {"time": now}
    for key in ("source_ip", "session_id", "uri", "prompt"):
        value = getattr(action, key)
        if value is not None:
            facts[key] = value
    facts.update(revision_facts(action.protocol_version, action.client_name))
    request = request_record(snapshot, facts)
    context: dict[str, Any] = {"token": token_context(principal), "request": request}
    needed = REQUIRED_FIELDS.get(action.method)
    if needed and getattr(action, needed) is None:
        if action.method == TOOL_CALL:
            raise UnknownTool("tools/call names no tool")
        raise InvalidArguments(f"{action.method} needs `{needed}`")
    if action.method == TOOL_CALL:
        tool = snapshot.tools.get(action.tool or "")
        if tool is None:
            raise UnknownTool(f"tool {action.tool!r} is not registered")
        context.update(tool.call_context(dict(action.arguments or {})))
        return CedarRequest(tool.name, context)
    if action.method not in METHOD_GROUPS:
        raise UnknownMethod(f"method {action.method!r} is not an MCP method mcp-pdp knows")
    if RESOURCES in METHOD_GROUPS[action.method]:
        context["uri"] = uri_facts(action.uri or "")
    if action.method == LISTEN and action.subscriptions is not None:
        context["subscriptions"] = subscription_facts(action.subscriptions)
    return CedarRequest(action.method, context)


def build_requests(
    snapshot: PolicySnapshot, principal: Principal, action: Action, now: int
) -> list[CedarRequest]:
    """Every Cedar request an action is decided by: its own, then its parts (a listen's URIs)."""
    parts = (action, *resource_parts(action))
    return [build_request(snapshot, principal, part, now) for part in parts]


def prepare_entities(
    snapshot: PolicySnapshot,
    principal: Principal,
    stored: StoredPrincipal,
    action_id: str | None = None,
) -> cedarpy.Entities:
    """Parse the principal's entities once, with the schema's action entities.

    With `action_id`, for one decision: only that action's chain, without the
    schema, where that is exact (engine/action_entities.py).
    """
    entities = build_entities(principal, stored, snapshot.user_attributes)
    chains = snapshot.action_chains
    try:
        if action_id is not None and chains is not None and action_id in chains:
            document = f"{json.dumps(entities)[:-1]},{chains[action_id]}]"
            return cedarpy.Entities.from_json_str(document)
        return cedarpy.Entities.from_json_str(json.dumps(entities), snapshot.schema)
    except ValueError as exc:
        raise EvaluationError(f"entities: {exc}") from exc


def cedar_request(principal: Principal, request: CedarRequest, gateway: str) -> dict[str, Any]:
    """The request dict cedarpy takes."""
    return {
        "principal": {"type": f"{NAMESPACE}::User", "id": principal.id},
        "action": {"type": f"{NAMESPACE}::Action", "id": request.action_id},
        "resource": {"type": f"{NAMESPACE}::Gateway", "id": gateway},
        "context": request.context,
    }


def evaluate(
    snapshot: PolicySnapshot,
    principal: Principal,
    stored: StoredPrincipal,
    request: CedarRequest,
    gateway: str,
) -> Decision:
    """Evaluate one request with Cedar and turn its answer into a Decision (fail closed)."""
    entities = prepare_entities(snapshot, principal, stored, request.action_id)
    return evaluate_many(snapshot, principal, entities, [(request, gateway)])[0]


def evaluate_parts(
    snapshot: PolicySnapshot,
    principal: Principal,
    stored: StoredPrincipal,
    requests: Sequence[CedarRequest],
    gateway: str,
) -> Decision:
    """The decision on an action's requests (`build_requests`): allowed when each one is."""
    if len(requests) == 1:
        return evaluate(snapshot, principal, stored, requests[0], gateway)
    entities = prepare_entities(snapshot, principal, stored)
    return combined(evaluate_many(snapshot, principal, entities, [(r, gateway) for r in requests]))


def evaluate_many(
    snapshot: PolicySnapshot,
    principal: Principal,
    entities: cedarpy.Entities,
    requests: Sequence[tuple[CedarRequest, str]],
) -> list[Decision]:
    """Evaluate requests of one principal, one Cedar batch per action; answers in order."""
    cedar_requests = [cedar_request(principal, r, gateway) for r, gateway in requests]
    results = _authorize(snapshot, snapshot.policies_for, entities, cedar_requests)
    decisions = []
    for cedar, result in zip(cedar_requests, results, strict=True):
        decision = _interpret(snapshot, result)
        if not decision.allowed and decision.reasons:
            scopes = _step_up(snapshot, principal, entities, cedar, decision)
            decision = replace(decision, required_scopes=scopes)
        decisions.append(decision)
    if snapshot.shadow_set is not None:
        decisions = _with_shadow(snapshot, entities, cedar_requests, decisions)
    return decisions


def _with_shadow(
    snapshot: PolicySnapshot,
    entities: cedarpy.Entities,
    requests: list[dict[str, Any]],
    decisions: list[Decision],
) -> list[Decision]:
    """Attach what `@mode("shadow")` policies would have decided; never change a decision."""

    def shadow_for(action_id: str) -> cedarpy.PolicySet:
        policies = snapshot.shadow_policies_for(action_id)
        assert policies is not None  # only called when the snapshot has shadow policies
        return policies

    results = _authorize(snapshot, shadow_for, entities, requests)
    attached = []
    for decision, result in zip(decisions, results, strict=True):
        would_be = _interpret(snapshot, result)
        shadow_ids = tuple(
            r for r in would_be.reasons if r in snapshot.policies and snapshot.policies[r].shadow
        )
        if would_be.code != "evaluation_error" and (
            shadow_ids or would_be.allowed != decision.allowed
        ):
            decision = replace(decision, shadow=ShadowEffect(would_be.allowed, shadow_ids))
        attached.append(decision)
    return attached


def _authorize(
    snapshot: PolicySnapshot,
    policies_for: Callable[[str], cedarpy.PolicySet],
    entities: cedarpy.Entities,
    requests: list[dict[str, Any]],
) -> list[cedarpy.AuthzResult | None]:
    """Results in request order; requests for one action share one Cedar batch on its slice."""
    by_action: dict[str, list[int]] = {}
    for index, request in enumerate(requests):
        by_action.setdefault(request["action"]["id"], []).append(index)
    results: list[cedarpy.AuthzResult | None] = [None] * len(requests)
    for action_id, indices in by_action.items():
        policy_set = policies_for(action_id)
        group = [requests[i] for i in indices]
        batch: list[cedarpy.AuthzResult | None]
        try:
            batch = list(cedarpy.is_authorized_batch(group, policy_set, entities, snapshot.schema))
        except ValueError:
            # One malformed request fails the whole batch: redo them one by one.
            batch = [_authorize_one(snapshot, entities, r, policy_set) for r in group]
        for index, result in zip(indices, batch, strict=True):
            results[index] = result
    return results


def _authorize_one(
    snapshot: PolicySnapshot,
    entities: cedarpy.Entities,
    request: dict[str, Any],
    policy_set: cedarpy.PolicySet | None = None,
) -> cedarpy.AuthzResult | None:
    policies = snapshot.policies_for(request["action"]["id"]) if policy_set is None else policy_set
    try:
        return cedarpy.is_authorized(request, policies, entities, schema=snapshot.schema)
    except ValueError:
        return None


def _interpret(snapshot: PolicySnapshot, result: cedarpy.AuthzResult | None) -> Decision:
    version = snapshot.version
    if result is None:
        return Decision.deny("evaluation_error", "Cedar refused the request", version)
    # Cedar reports reasons and errors from hash sets, in an order that varies
    # from call to call; sorted, equal decisions compare and log alike.
    errors = tuple(sorted(result.diagnostics.errors))
    reasons = tuple(sorted(result.diagnostics.reasons))
    if result.decision == cedarpy.Decision.NoDecision:
        return Decision.deny("evaluation_error", "; ".join(errors) or "no decision", version)
    if result.decision == cedarpy.Decision.Allow:
        # Cedar skips a policy that errors; for a forbid that would turn a deny
        # into an allow, so an Allow stands only when every error is a permit's.
        if not only_permits_failed(errors, snapshot.policies):
            return Decision(False, version, (), errors, "evaluation_error")
        return Decision(True, version, reasons, errors)
    if not reasons:
        return Decision(False, version, (), errors, "evaluation_error" if errors else "no_policy")
    return Decision(False, version, reasons, errors)


def _step_up(
    snapshot: PolicySnapshot,
    principal: Principal,
    entities: cedarpy.Entities,
    request: dict[str, Any],
    decision: Decision,
) -> tuple[str, ...]:
    """The scopes to ask for when more scopes would turn this deny into an allow.

    Only a deny whose every forbid names `@required_scope` qualifies, and only when
    the same request with those scopes added is allowed: asking the user to
    step up for a call that stays denied helps nobody.
    """
    scopes = set(principal.token.scopes)
    reasons = decision.reasons
    for _ in range(STEP_UP_ROUNDS):
        infos = [snapshot.policies.get(r) for r in reasons]
        if not infos or any(i is None or not i.required_scopes for i in infos):
            return ()
        missing = {s for i in infos if i is not None for s in i.required_scopes} - scopes
        if not missing:
            return ()  # the scopes are there and the policy still forbids
        scopes |= missing
        token = {**request["context"]["token"], "scopes": sorted(scopes)}
        retry = {**request, "context": {**request["context"], "token": token}}
        again = _interpret(snapshot, _authorize_one(snapshot, entities, retry))
        if again.allowed:
            return tuple(sorted(scopes))
        reasons = again.reasons
    return ()
