"""The three AuthZEN searches: (key, result) pairs for a page, from the core and the database.

- actions: the methods that act on a resource of the given type, each decided
  as a call; on an `mcp_server` also `tools/call` once per tool its listing
  (`filter_tools`) would show, the tool in `properties.tool`.
- resources: of type `tool`, the registered tools `filter_tools` lists for
  `tools/call`; other types have nothing to enumerate (gateways, URIs, prompts
  and tasks are not registered here), so their answer is empty.
- subjects: principals of the role database holding a role that reaches the
  action (decide/subjects.py).

A subject, action or resource that maps to no request finds nothing, as a
deny would say.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.api.auth import CallerAccess
from service.api.authzen.mapping import (
    METHODS_ON,
    SUBJECT_TYPES,
    ToolQuery,
    call_of,
    facts_of,
    gateway_of,
    identity_of,
    mcp_action,
)
from service.api.authzen.models import ActionSearch, ResourceSearch, SubjectSearch
from service.api.authzen.paging import Cursor
from service.decide.service import DecisionService
from service.decide.subjects import principals_reaching
from service.engine.errors import DecisionError
from service.engine.methods import TOOL_CALL
from service.engine.model import Action

Found = list[tuple[str, dict[str, Any]]]


async def actions(service: DecisionService, access: CallerAccess, body: ActionSearch) -> Found:
    """The actions the subject may do on the resource, keyed methods first, then tools."""
    resource = body.resource
    try:
        identity = identity_of(body.subject, body.context)
        facts = facts_of(body.context)
        gateway = gateway_of(resource, resource.properties)
    except DecisionError:
        return []
    found: Found = []
    methods = METHODS_ON.get(resource.type, ())
    if methods:
        named = {resource.type: resource.id}
        calls: list[Action | DecisionError] = [
            mcp_action(m, gateway, facts, uri=named.get("resource"), prompt=named.get("prompt"))
            for m in methods
        ]
        if access.refused is not None:
            calls = [access.refused for _ in calls]
        outcomes = await service.decide_many(identity, calls, caller=access.key_id)
        found += [
            (f"0 {method}", {"name": method})
            for method, outcome in zip(methods, outcomes, strict=True)
            if outcome.decision.allowed
        ]
    snapshot = service.snapshot
    if resource.type == "mcp_server":
        tools = sorted(snapshot.tools) if snapshot is not None else []
    else:
        tools = [resource.id] if resource.type == "tool" else []
    if tools:
        listing = await service.filter_tools(
            identity, tools, gateway, facts, refused=access.refused
        )
        for verdict in listing.verdicts:
            if verdict.listed:
                tool = {"tool": verdict.name} if resource.type == "mcp_server" else None
                result = {"name": TOOL_CALL, **({"properties": tool} if tool else {})}
                found.append((f"1 {verdict.name}", result))
    return found


async def resources(service: DecisionService, access: CallerAccess, body: ResourceSearch) -> Found:
    """The registered tools the subject may call; nothing for another type or action."""
    if body.resource.type != "tool" or body.action.name != TOOL_CALL:
        return []
    try:
        identity = identity_of(body.subject, body.context)
        facts = facts_of(body.context)
        gateway = gateway_of(None, body.resource.properties)
    except DecisionError:
        return []
    snapshot = service.snapshot
    names = sorted(snapshot.tools) if snapshot is not None else []
    listing = await service.filter_tools(identity, names, gateway, facts, refused=access.refused)
    return [(v.name, {"type": "tool", "id": v.name}) for v in listing.verdicts if v.listed]


async def subjects(
    service: DecisionService,
    sessions: async_sessionmaker[AsyncSession],
    access: CallerAccess,
    body: SubjectSearch,
    cursor: Cursor,
) -> Found:
    """The page of principals (one more than the limit, if there is more) after the cursor."""
    if body.subject.type not in SUBJECT_TYPES or access.refused is not None:
        return []
    try:
        call = call_of(body.action, body.resource, body.context)
    except DecisionError:
        return []
    if isinstance(call, ToolQuery):
        call = mcp_action(TOOL_CALL, call.gateway, call.facts, tool=call.tool)
    ids = await principals_reaching(
        service.snapshot, sessions, call, after=cursor.after, limit=cursor.limit + 1
    )
    return [(principal, {"type": body.subject.type, "id": principal}) for principal in ids]
