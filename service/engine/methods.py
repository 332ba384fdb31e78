"""MCP methods and the Cedar actions they map to.

`tools/call` maps to the tool's own action; every other method to an action
named as the method. The table covers every request and notification of MCP
2025-06-18, 2025-11-25 and 2026-07-28 (with its tasks extension), in both
directions (a gateway may also relay what a server sends to the client), side
by side: the methods 2026-07-28 removed (`initialize`, `ping`, ...) stay for the
older clients that still send them. Anything else is denied with
`unknown_method`.

Defaults: no method is allowed without a permit (Cedar denies by default, code
`no_policy`), `ping` and notifications included, so a policy set can shut a
session down completely. The demo's `policies/session.cedar` permits
`Notifications` and `Discovery` to every identified user, `initialize` and
`ping` to clients of the revisions that have sessions, and
`subscriptions/listen`. A gateway drops a denied notification silently:
notifications have no response.

What reaches `context` besides `token` and `request`:
- `resources/read`, `resources/subscribe`, `resources/unsubscribe` (group
  `Resources`) need `uri`; it is in `context.request.uri` as sent and, parsed and
  normalised, in `context.uri` (see `service/engine/paths.py`).
- `prompts/get` needs `prompt`; it is in `context.request.prompt`.
- `completion/complete` passes `uri` or `prompt` when the gateway gives them.
- `subscriptions/listen` needs `subscriptions` (its `notifications` filter); the
  filter is in `context.subscriptions`, and each resource URI it names is
  decided too, as `resources/subscribe` of that URI (engine/subscriptions.py).
"""

from __future__ import annotations

TOOL_CALL = "tools/call"
NAMESPACE = "Mcp"

# Action groups mcp-pdp always declares.
CALL_TOOL = "CallTool"
READ_ONLY_TOOLS = "ReadOnlyTools"
DESTRUCTIVE_TOOLS = "DestructiveTools"
DISCOVERY = "Discovery"  # methods that only list what the server offers
NOTIFICATIONS = "Notifications"  # every notification, either direction
RESOURCES = "Resources"  # methods on one resource: context.uri is present
TASKS = "Tasks"  # 2025-11-25 tasks and the 2026-07-28 tasks extension
SERVER_REQUESTS = "ServerRequests"  # requests a server sends to the client
GROUPS = (
    CALL_TOOL,
    READ_ONLY_TOOLS,
    DESTRUCTIVE_TOOLS,
    DISCOVERY,
    NOTIFICATIONS,
    RESOURCES,
    TASKS,
    SERVER_REQUESTS,
)

LISTEN = "subscriptions/listen"

# method → the groups its action belongs to
METHOD_GROUPS: dict[str, tuple[str, ...]] = {
    # client → server requests
    "initialize": (),  # up to 2025-11-25
    "ping": (),  # up to 2025-11-25
    "server/discover": (DISCOVERY,),  # 2026-07-28: versions, capabilities, instructions
    LISTEN: (),  # 2026-07-28: a stream of the change notifications the client opts into
    "tools/list": (DISCOVERY,),
    "resources/list": (DISCOVERY,),
    "resources/templates/list": (DISCOVERY,),
    "prompts/list": (DISCOVERY,),
    "resources/read": (RESOURCES,),
    "resources/subscribe": (RESOURCES,),  # up to 2025-11-25
    "resources/unsubscribe": (RESOURCES,),  # up to 2025-11-25
    "prompts/get": (),
    "completion/complete": (),
    "logging/setLevel": (),  # up to 2025-11-25
    # tasks: 2025-11-25 (either side), and the 2026-07-28 extension `io.modelcontextprotocol/tasks`
    "tasks/get": (TASKS,),
    "tasks/list": (TASKS, DISCOVERY),  # 2025-11-25
    "tasks/result": (TASKS,),  # 2025-11-25
    "tasks/cancel": (TASKS,),
    "tasks/update": (TASKS,),  # extension: the client's input for a task
    # server → client requests (2026-07-28 has none: they travel inside results)
    "sampling/createMessage": (SERVER_REQUESTS,),
    "roots/list": (SERVER_REQUESTS,),
    "elicitation/create": (SERVER_REQUESTS,),
    # notifications, either direction
    "notifications/initialized": (NOTIFICATIONS,),
    "notifications/cancelled": (NOTIFICATIONS,),
    "notifications/progress": (NOTIFICATIONS,),
    "notifications/roots/list_changed": (NOTIFICATIONS,),
    "notifications/tasks/status": (NOTIFICATIONS,),
    "notifications/message": (NOTIFICATIONS,),
    "notifications/resources/updated": (NOTIFICATIONS,),
    "notifications/resources/list_changed": (NOTIFICATIONS,),
    "notifications/tools/list_changed": (NOTIFICATIONS,),
    "notifications/prompts/list_changed": (NOTIFICATIONS,),
    "notifications/elicitation/complete": (NOTIFICATIONS,),
    "notifications/tasks": (NOTIFICATIONS,),  # tasks extension
    "notifications/subscriptions/acknowledged": (NOTIFICATIONS,),  # on a listen stream
}

# Methods that cannot be decided without these request fields.
REQUIRED_FIELDS: dict[str, str] = {
    TOOL_CALL: "tool",
    "resources/read": "uri",
    "resources/subscribe": "uri",
    "resources/unsubscribe": "uri",
    "prompts/get": "prompt",
    LISTEN: "subscriptions",
}

RESERVED_ACTIONS = frozenset(GROUPS) | frozenset(METHOD_GROUPS)
