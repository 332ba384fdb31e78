"""One generated world, written twice: Cedar policies for mcp-pdp and a Cerbos policy.

N tools (one Cedar action each), 20 roles, P policies. Policy `i` speaks of
tool `i mod N` and one role, and is one of

- RBAC: `permit (principal in Role::"r", action == Action::"t", resource);`
- attribute: the same, `when { principal.department == "dept_k" }`;
- scope: the same, `when { context.token.scopes.contains("scope_k") }`;
- guard: `forbid (...) unless { context.token.scopes.contains("write") }`;

plus one global forbid for `department == "suspended"` (scope `All`, so every
action sees it). Cerbos gets the same rules in one resource policy for kind
`gateway`, one Cerbos action per tool, deny rules overriding allows as Cedar's
forbids do. Requests carry roles, department and scopes the same way to both:
as claims to mcp-pdp (`groups`, `department`, `scope`), as principal roles and
attributes to Cerbos.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.engine.cedar_text import cedar_string

ROLES = [f"role_{i:02d}" for i in range(20)]
DEPARTMENTS = [f"dept_{i}" for i in range(5)]
SCOPES = [f"scope_{i}" for i in range(4)]
ISSUER = "https://bench.invalid"
STUB = (Path(__file__).resolve().parent.parent / "policies" / "schema.cedarschema").read_text()


def tool_name(index: int) -> str:
    """The gateway-style name of tool `index`."""
    return f"bench___t{index:04d}"


@dataclass(frozen=True)
class Rule:
    """One generated policy, in terms both engines can express."""

    index: int
    effect: str  # "permit" | "forbid"
    tool: str | None  # None: every action
    role: str | None  # None: every principal
    department: str | None = None  # condition: principal.department == this
    scope: str | None = None  # permit: scope present; forbid: scope absent


@dataclass(frozen=True)
class Template:
    """One request shape: who asks for which tool."""

    tool: str
    roles: tuple[str, ...]
    department: str
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class World:
    """Tools, rules and request templates of one benchmark configuration."""

    tools: int
    rules: tuple[Rule, ...]
    templates: tuple[Template, ...]

    def tools_list(self) -> dict[str, Any]:
        """A `tools/list` result for the registry."""
        schema = {
            "type": "object",
            "properties": {"q": {"type": "string"}},
            "required": ["q"],
        }
        return {
            "tools": [
                {
                    "name": tool_name(i),
                    "description": f"bench tool {i}",
                    "inputSchema": schema,
                    "annotations": {"readOnlyHint": i % 2 == 0},
                }
                for i in range(self.tools)
            ]
        }

    def cedar(self) -> str:
        """Every rule as a Cedar policy with `@id("p<index>")`."""
        return "\n".join(_cedar_rule(r) for r in self.rules)

    def cerbos(self) -> str:
        """Every rule in one Cerbos resource policy (JSON is valid YAML)."""
        rules = [_cerbos_rule(r) for r in self.rules]
        document = {
            "apiVersion": "api.cerbos.dev/v1",
            "resourcePolicy": {"version": "default", "resource": "gateway", "rules": rules},
        }
        return json.dumps(document, indent=1)

    def write_policies(self, folder: Path) -> None:
        """The mcp-pdp policy folder: the schema stub and one `bench.cedar`."""
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.cedar"):
            old.unlink()
        (folder / "schema.cedarschema").write_text(STUB)
        (folder / "bench.cedar").write_text(self.cedar())

    def write_cerbos(self, folder: Path) -> None:
        """The Cerbos policy folder."""
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "gateway.yaml").write_text(self.cerbos())


def _cedar_rule(rule: Rule) -> str:
    principal = f"principal in Mcp::Role::{cedar_string(rule.role)}" if rule.role else "principal"
    action = f"action == Mcp::Action::{cedar_string(rule.tool)}" if rule.tool else "action"
    conditions = []
    if rule.department:
        dept = f"principal.department == {cedar_string(rule.department)}"
        conditions.append(f"when {{ principal has department && {dept} }}")
    if rule.scope:
        word = "when" if rule.effect == "permit" else "unless"
        conditions.append(f"{word} {{ context.token.scopes.contains({cedar_string(rule.scope)}) }}")
    head = f'@id("p{rule.index:05d}")\n{rule.effect} ({principal}, {action}, resource)'
    return head + (" " + " ".join(conditions) if conditions else "") + ";\n"


def _cerbos_rule(rule: Rule) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": f"p{rule.index:05d}",
        "actions": [rule.tool or "*"],
        "roles": [rule.role or "*"],
        "effect": "EFFECT_ALLOW" if rule.effect == "permit" else "EFFECT_DENY",
    }
    exprs = []
    if rule.department:
        exprs.append(f'P.attr.department == "{rule.department}"')
    if rule.scope:
        has = f'"{rule.scope}" in P.attr.scopes'
        exprs.append(has if rule.effect == "permit" else f"!({has})")
    if exprs:
        out["condition"] = {"match": {"expr": " && ".join(exprs)}}
    return out


def make_world(*, tools: int, policies: int, templates: int = 200, seed: int = 7) -> World:
    """A deterministic world: `policies` rules over `tools` tools and 20 roles."""
    rng = random.Random(seed)  # noqa: S311 - reproducible data, not secrets
    rules = [Rule(0, "forbid", None, None, department="suspended")]
    for i in range(1, policies):
        tool, role = tool_name(i % tools), ROLES[(i * 7 + i // tools) % len(ROLES)]
        kind = i % 4
        if kind == 0:
            rules.append(Rule(i, "permit", tool, role))
        elif kind == 1:
            rules.append(Rule(i, "permit", tool, role, department=DEPARTMENTS[i % 5]))
        elif kind == 2:
            rules.append(Rule(i, "permit", tool, role, scope=SCOPES[i % 4]))
        else:
            rules.append(Rule(i, "forbid", tool, role, scope="write"))
    shapes = []
    for _ in range(templates):
        roles = tuple(sorted(rng.sample(ROLES, rng.randint(1, 3))))
        department = "suspended" if rng.random() < 0.03 else rng.choice(DEPARTMENTS)
        scopes = tuple(sorted(rng.sample([*SCOPES, "write"], rng.randint(0, 3))))
        shapes.append(Template(tool_name(rng.randrange(tools)), roles, department, scopes))
    return World(tools, tuple(rules), tuple(shapes))


def pdp_body(template: Template, subject: str) -> dict[str, Any]:
    """The `POST /v1/decisions` body of a template for one subject."""
    return {
        "claims": {
            "sub": subject,
            "iss": ISSUER,
            "groups": list(template.roles),
            "department": template.department,
            "scope": " ".join(template.scopes),
        },
        "method": "tools/call",
        "tool": template.tool,
        "arguments": {"q": "quarterly report"},
    }


def cerbos_body(template: Template, subject: str) -> dict[str, Any]:
    """The Cerbos `POST /api/check/resources` body of a template for one subject."""
    return {
        "requestId": "bench",
        "principal": {
            "id": subject,
            "roles": list(template.roles),
            "attr": {"department": template.department, "scopes": list(template.scopes)},
        },
        "resources": [
            {
                "actions": [template.tool],
                "resource": {"kind": "gateway", "id": "default", "attr": {}},
            }
        ],
    }
