"""Which tools could this principal call? Cedar partial evaluation, arguments unknown.

For each tool Cedar evaluates the principal's request with `context.input` (and
`context.paths`, `context.times`) left unknown, everything else known: the principal and its
roles, the token, the request facts. Cedar then answers

- Allow: some permit holds whatever the arguments and no forbid can apply;
- Deny: a forbid holds whatever the arguments, or no permit can hold;
- NoDecision: the answer depends on the arguments; the residual policies say how.

A tool is listed on Allow, and on NoDecision when a permit is satisfied or left
as a residual (it may hold for some arguments) and no forbid errors. Listing
over-approximates: a residual permit like `context.input.amount < 0 &&
context.input.amount > 9` is never true, yet lists its tool. It never
under-approximates, so the filter does not hide a tool a call could use, and a
listed tool is still decided per call. Partial evaluation is an experimental
Cedar feature; tests compare it with concrete decisions on sampled arguments.

Cost: tools to which the same policies can apply get the same answer, so
Cedar runs once per such class, not once per tool. "The same" counts only
policies whose action scope matches the tool (found once per snapshot) and
whose principal scope may match this principal, compared by shape (the policy
without its action scope and id, so per-tool grants written from one pattern
compare equal); a condition that reads `action` puts its tools in classes of
their own. 500 tools behind group policies, or granted one by one from a few
patterns, take a handful of evaluations.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

import cedarpy

from service.engine.cedar_errors import only_permits_failed
from service.engine.evaluate import token_context
from service.engine.methods import NAMESPACE
from service.engine.model import Principal
from service.engine.policies import PolicyInfo, PolicySnapshot


def unknown(name: str) -> dict[str, Any]:
    """A context value Cedar's partial evaluation leaves open, named `name`."""
    return {"__extn": {"fn": "unknown", "arg": name}}


_UNKNOWN_INPUT = unknown("input")
_UNKNOWN_PATHS = unknown("paths")
_UNKNOWN_TIMES = unknown("times")


@dataclass(frozen=True)
class ToolVerdict:
    """Whether one tool is listed, and why not when it is withheld."""

    name: str
    listed: bool
    code: str | None = None
    reasons: tuple[str, ...] = ()


_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\0": "\\0"}


def cedar_uid(entity_type: str, entity_id: str) -> str:
    """An entity uid in Cedar's normalised syntax, the form partial evaluation takes.

    Other control characters have no normalised spelling here; Cedar refuses
    them and the tool is withheld (`evaluation_error`), which fails closed.
    """
    escaped = "".join(_ESCAPES.get(ch, ch) for ch in entity_id)
    return f'{NAMESPACE}::{entity_type}::"{escaped}"'


def filter_tools(
    snapshot: PolicySnapshot,
    principal: Principal,
    entities: cedarpy.Entities,
    names: Iterable[str],
    gateway: str,
    request_facts: dict[str, Any],
    *,
    ancestors: frozenset[tuple[str, str]] | None = None,
    share: bool = True,
) -> list[ToolVerdict]:
    """One verdict per tool name, in order, all on one parsed entity set.

    `ancestors`: the principal's ancestor entities (its roles, transitively), so
    that policies whose principal scope cannot match are left out of the class
    key; None leaves every policy in. `share` False evaluates every tool alone
    (tests compare the two).
    """
    base = {"token": token_context(principal), "request": request_facts}
    principal_uid = cedar_uid("User", principal.id)
    resource_uid = cedar_uid("Gateway", gateway)
    user = (f"{NAMESPACE}::User", principal.id)
    verdicts = []
    answered: dict[tuple[object, ...], tuple[ToolVerdict, dict[str, str]]] = {}
    for name in names:
        tool = snapshot.tools.get(name)
        if tool is None:
            verdicts.append(ToolVerdict(name, False, "unknown_tool"))
            continue
        derived = (bool(tool.path_fields), bool(tool.time_fields))
        key, ids = _class_key(snapshot, name, tool.groups, derived, user, ancestors)
        known = answered.get(key) if share else None
        shared = _share(known, name, ids) if known else None
        if shared is not None:
            verdicts.append(shared)
            continue
        context = {**base, "input": _UNKNOWN_INPUT}
        if tool.path_fields:
            context["paths"] = _UNKNOWN_PATHS
        if tool.time_fields:
            context["times"] = _UNKNOWN_TIMES
        request = {
            "principal": principal_uid,
            "action": cedar_uid("Action", name),
            "resource": resource_uid,
            "context": context,
        }
        verdict = partial_verdict(snapshot, name, request, entities)
        answered[key] = (verdict, ids)
        verdicts.append(verdict)
    return verdicts


def partial_verdict(
    snapshot: PolicySnapshot, action_id: str, request: dict[str, Any], entities: cedarpy.Entities
) -> ToolVerdict:
    """Cedar's partial answer to one request with unknowns, read as the filter reads it."""
    # No schema here: Cedar cannot validate a context holding unknowns. The
    # entities were validated when parsed, and carry the schema's actions.
    try:
        policies = snapshot.policies_for(action_id)
        result = cedarpy.is_authorized_partial(request, policies, entities)
        return _verdict(snapshot, action_id, result)
    except ValueError:
        return ToolVerdict(action_id, False, "evaluation_error")


def _share(
    known: tuple[ToolVerdict, dict[str, str]], name: str, ids: dict[str, str]
) -> ToolVerdict | None:
    """Another tool's verdict for `name`, its reasons renamed to this tool's policies."""
    verdict, known_ids = known
    if not known_ids and not ids:  # a class keyed by policy ids: the very same reasons
        return replace(verdict, name=name)
    shape_of = {policy_id: shape for shape, policy_id in known_ids.items()}
    try:
        reasons = tuple(sorted(ids[shape_of[r]] for r in verdict.reasons))
    except KeyError:
        return None  # a reason outside the class: evaluate this tool itself
    return replace(verdict, name=name, reasons=reasons)


def _class_key(
    snapshot: PolicySnapshot,
    name: str,
    groups: tuple[str, ...],
    derived: tuple[bool, bool],
    user: tuple[str, str],
    ancestors: frozenset[tuple[str, str]] | None,
) -> tuple[tuple[object, ...], dict[str, str]]:
    """(key, policy id by shape): tools with equal keys get equal verdicts.

    The policies whose action scope matches the tool are found once per tool and
    snapshot (a walk over every policy); of those, the ones whose principal scope
    cannot match this principal are dropped per call: Cedar never applies them,
    so they cannot tell two tools apart. The rest are compared by shape (the
    policy without its action scope and id), so a policy written per tool,
    repeated for many tools, puts them in one class; a verdict's reasons are
    renamed to each tool's own policies.
    """
    known = snapshot.filter_classes.get(name)
    if known is None:
        known = snapshot.filter_classes[name] = _matching_policies(snapshot, name, groups)
    alone, matching = known
    if alone:
        return ("tool", name), {}
    applying = [info for info in matching if ancestors is None or _may_apply(info, user, ancestors)]
    ids = {info.shape: info.id for info in applying}
    if len(ids) < len(applying):  # two policies of one shape: compare by id
        return ("ids", derived, frozenset(info.id for info in applying)), {}
    return ("shapes", derived, frozenset(ids)), ids


def _matching_policies(
    snapshot: PolicySnapshot, name: str, groups: tuple[str, ...]
) -> tuple[bool, tuple[PolicyInfo, ...]]:
    """(alone, the policies whose action scope matches `name`); alone: share no verdict."""
    ancestors = {name, *groups}
    matching: list[PolicyInfo] = []
    for info in snapshot.policies.values():
        if info.action_op == "All":
            hit = True
        elif info.action_op in ("==", "in"):
            names = ancestors if info.action_op == "in" else {name}
            hit = not info.action_ids.isdisjoint(names)
        else:
            return True, ()  # a scope we do not understand: no sharing
        if hit:
            if info.conditions_use_action:
                return True, ()
            matching.append(info)
    return False, tuple(matching)


def _may_apply(
    info: PolicyInfo, user: tuple[str, str], ancestors: frozenset[tuple[str, str]]
) -> bool:
    """False only when the principal scope surely excludes this principal (else True)."""
    entity = info.principal_entity
    if info.principal_op == "==":
        return entity is None or entity == user
    if info.principal_op == "in":
        return entity is None or entity == user or entity in ancestors
    if info.principal_op == "is":
        same_type = info.principal_is in (None, user[0])
        return same_type and (entity is None or entity == user or entity in ancestors)
    return True  # All, or a form not known here


def _verdict(
    snapshot: PolicySnapshot, name: str, result: cedarpy.PartialAuthzResult
) -> ToolVerdict:
    diagnostics = result.diagnostics
    if not only_permits_failed(diagnostics.errors, snapshot.policies):
        # An erroring forbid denies every concrete call; an error naming no
        # policy means the request itself was refused.
        return ToolVerdict(name, False, "evaluation_error")
    satisfied = list(diagnostics.reasons)
    if result.decision == cedarpy.Decision.Allow:
        return ToolVerdict(name, True)
    if result.decision == cedarpy.Decision.Deny:
        forbids = tuple(sorted(p for p in satisfied if _effect(snapshot, p) == "forbid"))
        return ToolVerdict(name, False, None if forbids else "no_policy", forbids)
    maybe = set(satisfied) | set(diagnostics.nontrivial_residuals)
    if any(_effect(snapshot, p) == "permit" for p in maybe):
        return ToolVerdict(name, True)
    return ToolVerdict(name, False, "no_policy")


def _effect(snapshot: PolicySnapshot, policy_id: str) -> str | None:
    info = snapshot.policies.get(policy_id)
    return info.effect if info else None
