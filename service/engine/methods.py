"""MCP methods and the Cedar actions they map to.

`tools/call` maps to the tool's own action; every other method to an action
named as the method. The table covers every request and notification of MCP
2025-06-18 and 2025-11-25, in both directions (a gateway may also relay what a
server sends to the client); anything else is denied with `unknown_method`.

Defaults: no method is allowed without a permit (Cedar denies by default, code
`no_policy`), `ping` and notifications included, so a policy set can shut a
session down completely. The demo's `policies/session.cedar` permits
`initialize`, `ping`, `Notifications` and `Discovery` to every identified user.
A gateway drops a denied notification silently: notifications have no response.

What reaches `context` besides `token` and `request`:
- `resources/read`, `resources/subscribe`, `resources/unsubscribe` (group
  `Resources`) need `uri`; it is in `context.request.uri` as sent and, parsed and
  normalised, in `context.uri` (see `service/engine/paths.py`).
- `prompts/get` needs `prompt`; it is in `context.request.prompt`.
- `completion/complete` passes `uri` or `prompt` when the gateway gives them.
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
TASKS = "Tasks"  # 2025-11-25 tasks
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

# method → the groups its action belongs to
METHOD_GROUPS: dict[str, tuple[str, ...]] = {
    # client → server requests
    "initialize": (),
    "ping": (),
    "tools/list": (DISCOVERY,),
    "resources/list": (DISCOVERY,),
    "resources/templates/list": (DISCOVERY,),
    "prompts/list": (DISCOVERY,),
    "resources/read": (RESOURCES,),
    "resources/subscribe": (RESOURCES,),
    "resources/unsubscribe": (RESOURCES,),
    "prompts/get": (),
    "completion/complete": (),
    "logging/setLevel": (),
    # tasks (2025-11-25), sent by either side
    "tasks/get": (TASKS,),
    "tasks/list": (TASKS, DISCOVERY),
    "tasks/result": (TASKS,),
    "tasks/cancel": (TASKS,),
    # server → client requests
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
}

# Methods that cannot be decided without these request fields.
REQUIRED_FIELDS: dict[str, str] = {
    TOOL_CALL: "tool",
    "resources/read": "uri",
    "resources/subscribe": "uri",
    "resources/unsubscribe": "uri",
    "prompts/get": "prompt",
}

RESERVED_ACTIONS = frozenset(GROUPS) | frozenset(METHOD_GROUPS)
