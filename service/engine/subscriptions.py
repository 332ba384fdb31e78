"""`subscriptions/listen` (MCP 2026-07-28): one stream, one decision per thing it opens.

A listen request opts into change notifications: of the tool, prompt and
resource lists, and of each resource URI in `resourceSubscriptions`. It
replaces 2025's `resources/subscribe`, so it is decided in parts:

- the listen itself, as action `subscriptions/listen`, with the filter in
  `context.subscriptions` ({tools_list_changed, prompts_list_changed,
  resources_list_changed: Bool, resource_uris: Set<String>});
- each URI, as action `resources/subscribe` of that URI: `context.uri` parsed
  and normalised as for `resources/read`, so the resource policies that let a
  user subscribe in 2025 decide it in 2026 as well.

The listen is allowed only when every part is; the first denied part is the
answer. Updates to a resource tell what changed in it, so a URI the user may
not subscribe to must not ride along on a listen that is otherwise allowed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from service.engine.model import Action, Decision, Subscriptions

SUBSCRIBE = "resources/subscribe"
MAX_URIS = 100
MAX_URI = 4096
SUBSCRIPTION_FACTS_TYPE = (
    "{tools_list_changed: Bool, prompts_list_changed: Bool, "
    "resources_list_changed: Bool, resource_uris: Set<String>}"
)
# The filter's keys as MCP spells them → Subscriptions fields.
_FLAGS = {
    "toolsListChanged": "tools_list_changed",
    "promptsListChanged": "prompts_list_changed",
    "resourcesListChanged": "resources_list_changed",
}
_URIS = "resourceSubscriptions"


def parse_filter(value: Any) -> Subscriptions:
    """A `SubscriptionFilter` object as received; ValueError naming the key when malformed.

    A key this revision does not define is refused: it would open notifications
    no policy has seen.
    """
    if not isinstance(value, Mapping):
        raise ValueError("must be an object (the `notifications` filter)")
    flags: dict[str, bool] = {}
    for key, flag in value.items():
        if key == _URIS:
            continue
        if key not in _FLAGS:
            raise ValueError(f"`{key}` is not a subscription filter key")
        if not isinstance(flag, bool):
            raise ValueError(f"`{key}` must be a boolean")
        flags[_FLAGS[key]] = flag
    uris = value.get(_URIS, [])
    if not isinstance(uris, list) or len(uris) > MAX_URIS:
        raise ValueError(f"`{_URIS}` must be an array of at most {MAX_URIS} URIs")
    for uri in uris:
        if not isinstance(uri, str) or not 0 < len(uri) <= MAX_URI:
            raise ValueError(f"`{_URIS}` holds URIs: strings of 1 to {MAX_URI} characters")
    return Subscriptions(**flags, resource_uris=tuple(uris))


def subscription_facts(subscriptions: Subscriptions) -> dict[str, Any]:
    """`context.subscriptions` of a listen request."""
    return {
        "tools_list_changed": subscriptions.tools_list_changed,
        "prompts_list_changed": subscriptions.prompts_list_changed,
        "resources_list_changed": subscriptions.resources_list_changed,
        "resource_uris": sorted(set(subscriptions.resource_uris)),
    }


def resource_parts(action: Action) -> list[Action]:
    """The `resources/subscribe` action of each URI a listen subscribes to, in order."""
    if action.subscriptions is None:
        return []
    uris = dict.fromkeys(action.subscriptions.resource_uris)  # each URI once
    return [replace(action, method=SUBSCRIBE, uri=uri, subscriptions=None) for uri in uris]


def combined(decisions: Sequence[Decision]) -> Decision:
    """One answer for the parts of a request: the first deny, else an allow naming every reason."""
    for index, decision in enumerate(decisions):
        if not decision.allowed:
            if index == 0:
                return decision
            where = f"{_URIS}: a URI is not allowed (resources/subscribe)"
            return replace(decision, errors=(where, *decision.errors))
    first = decisions[0]
    reasons = tuple(sorted({r for d in decisions for r in d.reasons}))
    errors = tuple(sorted({e for d in decisions for e in d.errors}))
    shadow = next((d.shadow for d in decisions if d.shadow is not None), None)
    return replace(first, reasons=reasons, errors=errors, shadow=shadow)
