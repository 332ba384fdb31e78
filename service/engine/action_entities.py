"""Each action's own entities, so one decision parses a handful of entities, not the schema's all.

Parsing a principal's entities with the schema adds every action of the
schema (one per tool, method and group) and checks the attributes against
it: with 1,000 tools that parse was most of a decision's Cedar time. A
single decision needs only its action and that action's ancestors (for
`action in Group`), and a schema check that our own attribute check
already makes for the simple types. So, per snapshot, each action's chain
is kept as entity JSON, and a decision parses the principal's entities
with that chain and no schema, where that is exact:

- every declared user attribute has a simple type (String, Long, Bool,
  Set<String>), which `principal_attributes` checks itself; a record or an
  extension type needs Cedar to read the value against the schema;
- no policy asks whether an entity other than `principal`, `action` or
  `resource` is `in` something: such an entity, an action say, would be
  missing from the lean set.

Otherwise (None here) decisions parse with the schema, as tool filtering
always does.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import cedarpy

SIMPLE_TYPES = frozenset({"String", "Long", "Bool", "Set<String>"})
_VARIABLES = ({"Var": "principal"}, {"Var": "action"}, {"Var": "resource"})


def action_chains(
    schema: cedarpy.Schema,
    user_attributes: Mapping[str, str],
    policies: Iterable[dict[str, Any]],
) -> dict[str, str] | None:
    """Action id -> JSON of that action and its ancestors (no brackets); None if not exact."""
    if any(kind not in SIMPLE_TYPES for kind in user_attributes.values()):
        return None
    if any(_asks_in_of_a_literal(policy.get("conditions", [])) for policy in policies):
        return None
    actions = {
        entity["uid"]["id"]: entity
        for entity in json.loads(str(cedarpy.Entities.from_json_str("[]", schema)))
        if entity["uid"]["type"].endswith("::Action")
    }
    chains = {}
    for action_id in actions:
        seen: dict[str, dict[str, Any]] = {}
        pending = [action_id]
        while pending:
            current = pending.pop()
            if current in seen or current not in actions:
                continue
            seen[current] = actions[current]
            pending.extend(parent["id"] for parent in actions[current]["parents"])
        chains[action_id] = ",".join(json.dumps(entity) for entity in seen.values())
    return chains


def _asks_in_of_a_literal(node: Any) -> bool:
    """Whether some `in` (or `is … in`) asks about an entity other than the request's three."""
    if isinstance(node, list):
        return any(_asks_in_of_a_literal(item) for item in node)
    if not isinstance(node, dict):
        return False
    for key, value in node.items():
        if key in ("in", "is") and isinstance(value, dict):
            left = value.get("left")
            asks_in = key == "in" or "in" in value
            if asks_in and left not in _VARIABLES:
                return True
        if _asks_in_of_a_literal(value):
            return True
    return False
