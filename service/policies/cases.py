"""Policy test cases: request → expected decision, run against a snapshot.

A file in `policies/tests/` holds the role graph and the cases:

    {"roles": {"support-lead": ["support"]},
     "cases": [{"name": "...", "principal": {"id": "bob", "roles": ["support"],
                "attributes": {}, "claims": {"scope": "tools:write"}},
                "method": "tools/call", "tool": "payments___refund",
                "arguments": {"orderId": "A-1", "amount": 450},
                "expect": "allow", "reasons": ["tools.cedar#refunds-under-500"]}]}

`reasons`, `code` and `required_scopes` are checked only when given. A case may
also give what a gateway passes for MCP 2026-07-28: `meta` (the request's
`params._meta`), `headers` (`mcp-method`, `mcp-name`, `mcp-protocol-version`)
and, for `subscriptions/listen`, `subscriptions` (its `notifications` filter).

A file holding a JSON array is read in the Cedar CLI `run-tests` format
instead: each case has a `request` (principal, action, resource as Cedar
entity uids, and context), `entities`, `decision`, `reason` (policy ids that
must be among the determining ones) and `num_errors`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cedarpy

from service.decide.fixed import FixedFacts, FixedPolicies
from service.decide.service import DecisionService
from service.engine.model import Action, Decision, StoredPrincipal
from service.engine.policies import PolicySnapshot
from service.engine.revisions import McpHeaders, received
from service.engine.subscriptions import parse_filter
from service.identity.resolver import Identity, IdentityResolver

_CHECKED = ("reasons", "code", "required_scopes")


@dataclass(frozen=True)
class CaseResult:
    """One case: its name, file, and the differences found (empty when it passed)."""

    file: str
    name: str
    differences: tuple[str, ...]

    @property
    def passed(self) -> bool:
        """True when the decision matched every expectation."""
        return not self.differences


async def decide_case(
    snapshot: PolicySnapshot, roles: dict[str, list[str]], case: dict[str, Any]
) -> Decision:
    """The decision the service makes for one case: the same code path as a request."""
    who = case.get("principal", {})
    claims = {"sub": who["id"], **who.get("claims", {})}
    stored = StoredPrincipal(
        roles=frozenset(who.get("roles", [])),
        attributes=who.get("attributes", {}),
        role_parents={r: frozenset(p) for r, p in roles.items()},
    )
    action = Action(
        method=case.get("method", "tools/call"),
        tool=case.get("tool"),
        arguments=case.get("arguments"),
        uri=case.get("uri"),
        prompt=case.get("prompt"),
        gateway=case.get("gateway", "default"),
        subscriptions=parse_filter(case["subscriptions"]) if "subscriptions" in case else None,
    )
    headers = case.get("headers")
    mcp_headers = None
    if headers is not None:
        mcp_headers = McpHeaders(
            method=headers.get("mcp-method"),
            name=headers.get("mcp-name"),
            protocol_version=headers.get("mcp-protocol-version"),
        )
    action, mismatch = received(action, case.get("meta"), mcp_headers)
    at = float(case.get("time", time.time()))
    service = DecisionService(
        policies=FixedPolicies(snapshot),
        facts=FixedFacts(stored),
        identity=IdentityResolver(clock=lambda: at),
        clock=lambda: at,
    )
    return (await service.decide(Identity(claims=claims), action, refused=mismatch)).decision


def _differences(decision: Decision, case: dict[str, Any]) -> tuple[str, ...]:
    actual = {
        "decision": "allow" if decision.allowed else "deny",
        "reasons": sorted(decision.reasons),
        "code": decision.code,
        "required_scopes": sorted(decision.required_scopes),
    }
    expected = {"decision": case["expect"]}
    for key in _CHECKED:
        if key in case:
            value = case[key]
            expected[key] = sorted(value) if isinstance(value, list) else value
    return tuple(
        f"{key}: expected {json.dumps(want)}, got {json.dumps(actual[key])}"
        for key, want in expected.items()
        if actual[key] != want
    )


def cedar_case_differences(snapshot: PolicySnapshot, case: dict[str, Any]) -> tuple[str, ...]:
    """Run one case in the Cedar CLI `run-tests` format against the enforced set."""
    request = dict(case["request"])
    request.setdefault("context", {})
    result = cedarpy.is_authorized(
        request, snapshot.policy_set, case.get("entities", []), schema=snapshot.schema
    )
    if result.decision == cedarpy.Decision.NoDecision:
        return ("error: " + "; ".join(result.diagnostics.errors),)
    differences = []
    decision = "allow" if result.allowed else "deny"
    if decision != case["decision"]:
        differences.append(f"decision: expected {case['decision']!r}, got {decision!r}")
    missing = sorted(set(case.get("reason", [])) - set(result.diagnostics.reasons))
    if missing:
        differences.append(f"missing reasons: {', '.join(missing)}")
    errors = len(result.diagnostics.errors)
    if errors != case.get("num_errors", 0):
        differences.append(f"errors: expected {case.get('num_errors', 0)}, got {errors}")
    return tuple(differences)


def _run_cedar_file(snapshot: PolicySnapshot, path: Path, cases: list[Any]) -> list[CaseResult]:
    results = []
    for index, case in enumerate(cases):
        name = case.get("name", f"case {index + 1}") if isinstance(case, dict) else str(index)
        try:
            differences = cedar_case_differences(snapshot, case)
        except (KeyError, TypeError, ValueError) as exc:
            differences = (f"malformed case: {exc}",)
        results.append(CaseResult(path.name, name, differences))
    return results


async def run_file(snapshot: PolicySnapshot, path: Path) -> list[CaseResult]:
    """Run every case of one test file (our form, or Cedar's when it is an array)."""
    document = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(document, list):
        return _run_cedar_file(snapshot, path, document)
    roles = document.get("roles", {})
    results = []
    for index, case in enumerate(document.get("cases", [])):
        name = case.get("name", f"case {index + 1}")
        if case.get("expect") not in ("allow", "deny"):
            results.append(CaseResult(path.name, name, ('"expect" must be "allow" or "deny"',)))
            continue
        try:
            decision = await decide_case(snapshot, roles, case)
        except (AttributeError, ValueError) as exc:
            results.append(CaseResult(path.name, name, (f"malformed case: {exc}",)))
            continue
        results.append(CaseResult(path.name, name, _differences(decision, case)))
    return results


async def run_dir(snapshot: PolicySnapshot, tests_dir: Path) -> list[CaseResult]:
    """Run every `*.json` file of a tests folder, sorted by name."""
    return [r for path in sorted(tests_dir.glob("*.json")) for r in await run_file(snapshot, path)]
