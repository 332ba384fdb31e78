"""MCP methods and the Cedar actions they map to.

`tools/call` maps to the tool's own action; every other method to an action
named as the method. The lists cover MCP 2025-06-18 and 2025-11-25 requests a
client sends through a gateway; anything else is `unknown_method`.
"""

from __future__ import annotations

TOOL_CALL = "tools/call"
NAMESPACE = "Mcp"

# Action groups mcp-pdp always declares.
CALL_TOOL = "CallTool"
READ_ONLY_TOOLS = "ReadOnlyTools"
DESTRUCTIVE_TOOLS = "DestructiveTools"
DISCOVERY = "Discovery"
NOTIFICATIONS = "Notifications"
GROUPS = (CALL_TOOL, READ_ONLY_TOOLS, DESTRUCTIVE_TOOLS, DISCOVERY, NOTIFICATIONS)

# method → the groups its action belongs to
METHOD_GROUPS: dict[str, tuple[str, ...]] = {
    "initialize": (),
    "ping": (),
    "tools/list": (DISCOVERY,),
    "resources/list": (DISCOVERY,),
    "resources/templates/list": (DISCOVERY,),
    "prompts/list": (DISCOVERY,),
    "resources/read": (),
    "resources/subscribe": (),
    "resources/unsubscribe": (),
    "prompts/get": (),
    "completion/complete": (),
    "logging/setLevel": (),
    "tasks/get": (),
    "tasks/list": (DISCOVERY,),
    "tasks/result": (),
    "tasks/cancel": (),
    "notifications/initialized": (NOTIFICATIONS,),
    "notifications/cancelled": (NOTIFICATIONS,),
    "notifications/progress": (NOTIFICATIONS,),
    "notifications/roots/list_changed": (NOTIFICATIONS,),
}

RESERVED_ACTIONS = frozenset(GROUPS) | frozenset(METHOD_GROUPS)
