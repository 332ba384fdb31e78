"""Which roles reach an action? The question of a subject search, by partial evaluation.

For each role, Cedar evaluates the action for a principal holding that role
alone (and the roles it inherits), with no attribute and no tag, and with what
only a request would tell left unknown: the token (`context.token`) and, for
`tools/call`, the arguments (`context.input`, `context.paths`). A role reaches
the action when the answer is read as the tool filter reads it (listed): some
token and some arguments could make a call by a holder of that role allowed.

What this cannot see, so a search built on it is an approximation:
- grants by principal id, attribute or token claim (a tag, a groups claim):
  the principal has none of them here, so such grants reach no role;
- combinations: a policy that needs two roles at once reaches neither alone;
- denials of a particular holder: an attribute, claim or second role that a
  forbid names does not keep a role out.
A role reaching an action is a candidate, never a permission; each call is
still decided on its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from service.engine.errors import DecisionError
from service.engine.evaluate import build_request, prepare_entities
from service.engine.filtering import cedar_uid, partial_verdict, unknown
from service.engine.methods import TOOL_CALL
from service.engine.model import Action, Principal, StoredPrincipal
from service.engine.policies import PolicySnapshot

# Identity refuses an empty subject, so no real principal has this id and no
# policy naming one user applies to the searching principal.
SEARCHER = ""


@dataclass(frozen=True)
class Reach:
    """The roles whose holders could be allowed the action; `anyone`: no role is needed."""

    anyone: bool
    roles: frozenset[str]


def roles_reaching(
    snapshot: PolicySnapshot,
    action: Action,
    roles: Iterable[str],
    role_parents: Mapping[str, frozenset[str]],
    now: int,
) -> Reach:
    """The roles (of `roles`) that reach `action`; nothing for an action that cannot be decided."""
    try:
        action_id, request = _partial_request(snapshot, action, now)
    except DecisionError:
        return Reach(False, frozenset())

    def could(direct: frozenset[str]) -> bool:
        stored = StoredPrincipal(roles=direct, role_parents=role_parents)
        try:
            entities = prepare_entities(snapshot, Principal(SEARCHER), stored)
        except DecisionError:
            return False  # fail closed: a role whose entities do not parse reaches nothing
        return partial_verdict(snapshot, action_id, request, entities).listed

    candidates = list(roles)
    if could(frozenset()):
        return Reach(True, frozenset(candidates))
    return Reach(False, frozenset(role for role in candidates if could(frozenset({role}))))


def _partial_request(
    snapshot: PolicySnapshot, action: Action, now: int
) -> tuple[str, dict[str, Any]]:
    """(action id, the Cedar request with the token, and a tool's arguments, unknown)."""
    if action.method == TOOL_CALL and action.tool is not None:
        tool = snapshot.tools.get(action.tool)
        if tool is None:
            raise DecisionError(f"tool {action.tool!r} is not registered")
        action_id = tool.name
        context: dict[str, Any] = {"request": {"time": now}, "input": unknown("input")}
        if tool.path_fields:
            context["paths"] = unknown("paths")
    else:
        built = build_request(snapshot, Principal(SEARCHER), action, now)
        action_id, context = built.action_id, dict(built.context)
    context["token"] = unknown("token")
    request = {
        "principal": cedar_uid("User", SEARCHER),
        "action": cedar_uid("Action", action_id),
        "resource": cedar_uid("Gateway", action.gateway),
        "context": context,
    }
    return action_id, request
