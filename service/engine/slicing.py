"""Per-action policy slices: evaluate only the policies that can apply to the action.

Cedar evaluates every policy of a set on every request, so a decision's cost
grows with the whole policy set. Yet a policy whose action scope excludes the
requested action can never be satisfied, and never errors either: Cedar checks
the scope (principal, action, resource) before the `when`/`unless`
conditions and stops at the first false part. Dropping such policies therefore
leaves the decision, its reasons and its errors unchanged.

A policy is kept for action `a` when its action scope is `action` (any), `==`
`a`, or `in` a set naming `a` or one of `a`'s groups; and, belt and braces,
whenever its conditions mention `action` or its scope has a form this module
does not know. With one Cedar action per tool, a decision then evaluates the
tool's own policies plus the global ones, whatever the size of the whole set.

Slices are built on first use and kept with their snapshot, so a reload drops
them with the snapshot. Actions that keep the same policies share one set.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import cedarpy

SCOPE_OPS = frozenset({"All", "==", "in"})


class PolicySlices:
    """Lazily built per-action PolicySets over one fixed policy set."""

    def __init__(
        self,
        policies: Mapping[str, dict[str, Any]],
        scopes: Mapping[str, tuple[str, frozenset[str], bool]],
        groups: Mapping[str, frozenset[str]],
    ) -> None:
        """`policies`: id → EST; `scopes`: id → (op, action ids, conditions use action);
        `groups`: action id → the action groups it belongs to (transitively)."""
        self._policies = dict(policies)
        self._scopes = {p: scopes[p] for p in self._policies}
        self._groups = dict(groups)
        self._by_action: dict[str, cedarpy.PolicySet] = {}
        self._by_members: dict[frozenset[str], cedarpy.PolicySet] = {}

    def members(self, action_id: str) -> frozenset[str]:
        """Ids of the policies that can apply to `action_id`."""
        names = {action_id, *self._groups.get(action_id, ())}
        kept = []
        for policy_id, (op, ids, uses_action) in self._scopes.items():
            if (
                op == "All"
                or uses_action
                or op not in SCOPE_OPS
                or (op == "==" and action_id in ids)
                or (op == "in" and not ids.isdisjoint(names))
            ):
                kept.append(policy_id)
        return frozenset(kept)

    def for_action(self, action_id: str) -> cedarpy.PolicySet:
        """The PolicySet to evaluate a request for `action_id` on."""
        found = self._by_action.get(action_id)
        if found is None:
            members = self.members(action_id)
            found = self._by_members.get(members)
            if found is None:
                found = policy_set({p: self._policies[p] for p in sorted(members)})
                self._by_members[members] = found
            self._by_action[action_id] = found
        return found


def policy_set(policies: Mapping[str, Any]) -> cedarpy.PolicySet:
    """A pre-parsed PolicySet from EST policies keyed by their ids."""
    document = {"staticPolicies": dict(policies), "templates": {}, "templateLinks": []}
    return cedarpy.PolicySet.from_json_str(json.dumps(document))
