"""Engine-level helpers shared by the MCP tests: the demo snapshot and principals."""

from __future__ import annotations

import itertools
import json
from functools import cache
from typing import Any

from service.engine.model import Principal, StoredPrincipal
from service.engine.policies import PolicySnapshot, load_snapshot
from service.engine.tools import tools_from_list_result
from service.identity.claims import principal_from_claims
from service.settings import IssuerSettings
from tests.conftest import DEMO_TOOLS, POLICY_DIR

ROLE_PARENTS = {
    "analyst": frozenset({"employee"}),
    "support": frozenset({"employee"}),
    "support-lead": frozenset({"support"}),
    "hr": frozenset({"employee"}),
    "admin": frozenset({"analyst", "support-lead"}),
}

# name → (claims, roles, attributes), as the demo seed would give them
PEOPLE: dict[str, tuple[dict[str, Any], set[str], dict[str, Any]]] = {
    "alice": ({"sub": "alice"}, {"analyst"}, {"department": "finance", "clearance": 3}),
    "bob-write": ({"sub": "bob", "scope": "tools:write"}, {"support"}, {}),
    "bob-read": ({"sub": "bob", "scope": "tools:read"}, {"support"}, {}),
    "carol": ({"sub": "carol", "scope": "tools:write"}, {"support-lead"}, {}),
    "dave": ({"sub": "dave", "scope": "tools:write"}, {"admin"}, {}),
    "contractor": (
        {"sub": "dave", "scope": "tools:write", "employment": "contractor"},
        {"admin"},
        {},
    ),
    "erin": ({"sub": "erin"}, {"hr"}, {}),
    "pat": ({"sub": "pat", "tenant": "acme-partner"}, set(), {}),
    "nobody": ({"sub": "nobody"}, set(), {}),
}


@cache
def demo_snapshot() -> PolicySnapshot:
    """The demo policies compiled against the 50-tool demo registry."""
    return load_snapshot(POLICY_DIR, tools_from_list_result(json.loads(DEMO_TOOLS.read_text())))


def person(name: str) -> tuple[Principal, StoredPrincipal]:
    """A demo principal and what the store would hold for it."""
    claims, roles, attributes = PEOPLE[name]
    principal = principal_from_claims(claims, IssuerSettings(issuer=""))
    stored = StoredPrincipal(frozenset(roles), attributes, ROLE_PARENTS)
    return principal, stored


_STRINGS = ["x", "/data/reports/q1.csv", "/data/reports/../../etc/passwd", "/etc/hosts"]
_INTEGERS = [0, 10, 499, 500, 4999, 10_000]


def _candidates(node: dict[str, Any]) -> list[Any]:
    kind = node.get("type")
    if isinstance(kind, list):
        return [*_candidates({**node, "type": kind[0]}), None]
    if "enum" in node:
        return list(node["enum"])
    return {
        "string": _STRINGS,
        "integer": _INTEGERS,
        "number": [0, 1.5, 600],
        "boolean": [True, False],
        "array": [[], ["x"]],
        "object": [{}],
    }.get(kind, ["x"])


def sample_arguments(schema: dict[str, Any], limit: int = 200) -> list[dict[str, Any]]:
    """Argument sets covering each property's interesting values (a bounded product)."""
    properties = schema.get("properties", {})
    required = set(schema.get("required", []))
    axes = []
    for name, node in properties.items():
        values = _candidates(node)
        axes.append([(name, v) for v in values] + ([] if name in required else [(name, ...)]))
    samples = []
    for combo in itertools.islice(itertools.product(*axes), limit):
        samples.append({name: value for name, value in combo if value is not ...})
    return samples or [{}]
