"""Loading `.cedar` files into one validated, pre-parsed policy snapshot.

Every policy gets a stable id that is also what decisions report as a reason:
`<file>#<@id>`, or `<file>:<line>` for a policy without `@id`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cedarpy

from service.engine.action_entities import action_chains
from service.engine.cedar_text import statements
from service.engine.errors import PolicyLoadError
from service.engine.methods import METHOD_GROUPS
from service.engine.schema import full_schema_text, request_attribute_names, user_attribute_types
from service.engine.slicing import PolicySlices, policy_set
from service.engine.time_reads import reads_request_time
from service.engine.tools import Tool

STUB_FILE = "schema.cedarschema"
_POLICY_IN_ERROR = re.compile(r"^\[(policy\d+)\] (.*)$", re.S)


@dataclass(frozen=True)
class PolicyFile:
    """One policy source file."""

    name: str
    text: str


@dataclass(frozen=True)
class PolicyInfo:
    """What we know of one policy beyond Cedar: where it is and its annotations."""

    id: str
    file: str
    line: int
    effect: str
    annotations: Mapping[str, str]
    # The action scope: op ("All", "==", "in") and the action ids it names, and
    # whether a condition looks at `action`; the tool filter groups tools by them.
    action_op: str = "All"
    action_ids: frozenset[str] = frozenset()
    conditions_use_action: bool = True
    # The principal scope, for the tool filter: op ("All", "==", "in", "is", or
    # anything else for a form it does not know), the entity (type, id) named by
    # `==`/`in`, and the entity type named by `is`. None where absent or a slot.
    principal_op: str = "All"
    principal_entity: tuple[str, str] | None = None
    principal_is: str | None = None
    # The policy without its action scope and id: two policies of equal shape
    # decide alike for any action each of them matches (unless a condition reads
    # `action`, which `conditions_use_action` says).
    shape: str = ""

    @property
    def shadow(self) -> bool:
        """`@mode("shadow")`: evaluated and logged, never enforced."""
        return self.annotations.get("mode") == "shadow"

    @property
    def required_scopes(self) -> tuple[str, ...]:
        """Scopes named by `@required_scope("a b")`."""
        value = self.annotations.get("required_scope", "")
        return tuple(s for s in re.split(r"[\s,]+", value) if s)


@dataclass(frozen=True)
class PolicySnapshot:
    """An activated policy set: immutable, swapped whole on reload."""

    version: str
    policy_set: cedarpy.PolicySet
    schema: cedarpy.Schema
    schema_text: str
    policies: Mapping[str, PolicyInfo]
    tools: Mapping[str, Tool]
    user_attributes: Mapping[str, str] = field(default_factory=dict)
    # The attributes the stub's `RequestInfo` declares; None: unknown, pass every fact.
    request_attributes: frozenset[str] | None = None
    # Enforced plus `@mode("shadow")` policies; None when there are no shadow policies.
    shadow_set: cedarpy.PolicySet | None = None
    # Whether some policy (shadow ones too) may read `context.request.time`: then no
    # answer of this set may be reused by a cache. Unknown counts as yes.
    reads_time: bool = True
    # Per-action slices of the two sets (None: evaluate the whole set).
    slices: PolicySlices | None = None
    shadow_slices: PolicySlices | None = None
    # Action id -> that action's entity chain, for lean single decisions; None: parse
    # with the schema (engine/action_entities.py).
    action_chains: Mapping[str, str] | None = None
    # The tool filter's policies per tool, filled on first use (engine/filtering.py).
    filter_classes: dict[str, tuple[Any, ...]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def policies_for(self, action_id: str) -> cedarpy.PolicySet:
        """The enforced policies that can apply to `action_id`."""
        return self.slices.for_action(action_id) if self.slices else self.policy_set

    def shadow_policies_for(self, action_id: str) -> cedarpy.PolicySet | None:
        """Enforced plus shadow policies that can apply to `action_id`; None without shadows."""
        if self.shadow_set is None:
            return None
        return self.shadow_slices.for_action(action_id) if self.shadow_slices else self.shadow_set


def read_policy_dir(policy_dir: Path) -> tuple[str, list[PolicyFile]]:
    """Read the schema stub and every `*.cedar` file (sorted) from a folder."""
    stub_path = policy_dir / STUB_FILE
    if not stub_path.is_file():
        raise PolicyLoadError("schema stub not found", file=str(stub_path))
    files = [
        PolicyFile(path.name, path.read_text(encoding="utf-8"))
        for path in sorted(policy_dir.glob("*.cedar"))
    ]
    return stub_path.read_text(encoding="utf-8"), files


def _parse_file(source: PolicyFile) -> list[tuple[dict[str, Any], int]]:
    """Parse one file to (EST policy, start line) pairs, with file:line on error."""
    parts = statements(source.text)
    try:
        est = json.loads(cedarpy.policies_to_json_str(source.text))
    except ValueError as exc:
        for part in parts:  # find the statement Cedar stumbles on
            try:
                cedarpy.policies_to_json_str(part.text)
            except ValueError as part_exc:
                raise PolicyLoadError(str(part_exc), file=source.name, line=part.line) from exc
        raise PolicyLoadError(str(exc), file=source.name) from exc
    if est.get("templates"):
        raise PolicyLoadError("policy templates are not supported", file=source.name)
    policies = list(est["staticPolicies"].values())
    lines = [p.line for p in parts] if len(parts) == len(policies) else [1] * len(policies)
    return list(zip(policies, lines, strict=True))


def compile_policies(
    stub: str, files: Iterable[PolicyFile], tools: Iterable[Tool]
) -> PolicySnapshot:
    """Parse, name, validate strictly and pre-parse a policy set; PolicyLoadError if invalid."""
    files, tools = list(files), list(tools)
    for tool in tools:
        tool.prepare()
    schema_text = full_schema_text(stub, tools)
    try:
        schema = cedarpy.Schema.from_str(schema_text)
    except ValueError as exc:
        raise _schema_error(stub, exc) from exc

    infos: dict[str, PolicyInfo] = {}
    est_policies: dict[str, Any] = {}
    for source in files:
        for policy, line in _parse_file(source):
            annotations = {k: v or "" for k, v in (policy.get("annotations") or {}).items()}
            policy_id = (
                f"{source.name}#{annotations['id']}"
                if "id" in annotations
                else (f"{source.name}:{line}")
            )
            if policy_id in infos:
                raise PolicyLoadError(
                    f"duplicate policy id {policy_id}", file=source.name, line=line
                )
            infos[policy_id] = PolicyInfo(
                policy_id,
                source.name,
                line,
                policy["effect"],
                annotations,
                *_action_scope(policy),
                *_principal_scope(policy),
                _shape(policy),
            )
            est_policies[policy_id] = policy

    _validate(files, schema, list(infos.values()))
    enforced = {pid: p for pid, p in est_policies.items() if not infos[pid].shadow}
    has_shadow = len(enforced) < len(est_policies)
    scopes = {pid: (i.action_op, i.action_ids, i.conditions_use_action) for pid, i in infos.items()}
    user_attributes = user_attribute_types(str(schema))
    groups = {t.name: frozenset(t.groups) for t in tools}
    groups.update((method, frozenset(g)) for method, g in METHOD_GROUPS.items())
    return PolicySnapshot(
        version=policy_version(stub, files, tools),
        policy_set=policy_set(enforced),
        shadow_set=policy_set(est_policies) if has_shadow else None,
        slices=PolicySlices(enforced, scopes, groups),
        shadow_slices=PolicySlices(est_policies, scopes, groups) if has_shadow else None,
        schema=schema,
        schema_text=schema_text,
        policies=infos,
        tools={t.name: t for t in tools},
        user_attributes=user_attributes,
        request_attributes=request_attribute_names(str(schema)),
        action_chains=action_chains(schema, user_attributes, est_policies.values()),
        reads_time=any(reads_request_time(p.get("conditions", [])) for p in est_policies.values()),
    )


def _schema_error(stub: str, exc: ValueError) -> PolicyLoadError:
    """Blame the stub only when the stub alone fails; else the generated tool actions."""
    try:
        cedarpy.Schema.from_str(full_schema_text(stub, []))
    except ValueError:
        return PolicyLoadError(f"schema: {exc}", file=STUB_FILE)
    return PolicyLoadError(f"the schema generated for the tool registry: {exc}")


def _action_scope(policy: dict[str, Any]) -> tuple[str, frozenset[str], bool]:
    scope = policy.get("action") or {}
    named = [scope["entity"]] if "entity" in scope else scope.get("entities", [])
    uses_action = '{"Var": "action"}' in json.dumps(policy.get("conditions", []))
    return scope.get("op", "All"), frozenset(e["id"] for e in named), uses_action


def _shape(policy: dict[str, Any]) -> str:
    annotations = {k: v for k, v in (policy.get("annotations") or {}).items() if k != "id"}
    rest = {k: v for k, v in policy.items() if k not in ("action", "annotations")}
    return json.dumps({**rest, "annotations": annotations}, sort_keys=True)


def _principal_scope(policy: dict[str, Any]) -> tuple[str, tuple[str, str] | None, str | None]:
    scope = policy.get("principal") or {}
    within = scope.get("in", scope)  # `principal is T in E` names E under "in"
    entity = within.get("entity") if isinstance(within, dict) else None
    named = (str(entity["type"]), str(entity["id"])) if isinstance(entity, dict) else None
    kind = scope.get("entity_type")
    return str(scope.get("op", "All")), named, str(kind) if kind else None


def _validate(files: list[PolicyFile], schema: cedarpy.Schema, infos: list[PolicyInfo]) -> None:
    # Cedar numbers the policies of the concatenated text policy0..N in file order,
    # the same order `infos` was built in.
    result = cedarpy.validate_policies("\n".join(f.text for f in files), schema)
    if result.validation_passed:
        return
    first = str(result.errors[0])
    match = _POLICY_IN_ERROR.match(first)
    if match:
        index = int(match.group(1).removeprefix("policy"))
        if index < len(infos):
            info = infos[index]
            message = match.group(2).replace(f"`{match.group(1)}`", f"`{info.id}`")
            raise PolicyLoadError(message, file=info.file, line=info.line)
    raise PolicyLoadError(first)


def policy_version(stub: str, files: Iterable[PolicyFile], tools: Iterable[Tool]) -> str:
    """Content hash of the stub, every policy file and the tool registry."""
    digest = hashlib.sha256()
    digest.update(stub.encode())
    for source in sorted(files, key=lambda f: f.name):
        digest.update(b"\0file\0" + source.name.encode() + b"\0" + source.text.encode())
    registry = [
        [t.name, t.description, t.input_schema, t.annotations, list(t.tags)]
        for t in sorted(tools, key=lambda t: t.name)
    ]
    digest.update(b"\0tools\0" + json.dumps(registry, sort_keys=True).encode())
    return "sha256:" + digest.hexdigest()


def load_snapshot(policy_dir: Path, tools: Iterable[Tool]) -> PolicySnapshot:
    """Read and compile the policy folder against the given tool registry."""
    stub, files = read_policy_dir(policy_dir)
    return compile_policies(stub, files, tools)
