"""The tool registry: names, groups, annotations, input schemas."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body

from service.api.admin.schemas import ToolsOut
from service.api.auth import AdminDep
from service.api.deps import PoliciesDep, PolicyLockDep, SessionDep, SettingsDep
from service.api.json_body import JsonRoute
from service.engine.tools import Tool
from service.policies.registry import sync_tools
from service.store.tools import load_tools

router = APIRouter(tags=["admin: tools"], route_class=JsonRoute)
EXAMPLE = {
    "tools": [
        {
            "name": "docs___search",
            "description": "Search documents",
            "inputSchema": {"type": "object", "properties": {"query": {"type": "string"}}},
            "annotations": {"readOnlyHint": True},
        }
    ]
}


def _listed(tool: Tool) -> dict[str, Any]:
    return {
        "name": tool.name,
        "description": tool.description,
        "inputSchema": tool.input_schema,
        "annotations": tool.annotations,
        "tags": list(tool.tags),
        "groups": list(tool.groups),
    }


@router.put(
    "/tools",
    responses={422: {"description": "a bad tool, or the policies do not validate against it"}},
)
async def put_tools(
    admin: AdminDep,
    session: SessionDep,
    settings: SettingsDep,
    policies: PoliciesDep,
    lock: PolicyLockDep,
    document: dict[str, Any] = Body(examples=[EXAMPLE]),  # noqa: B008
) -> ToolsOut:
    """Replace the registry with a `tools/list` result; the policies are recompiled against it.

    If the policies do not validate against the new registry, nothing changes (422,
    naming the policy error). On success the next decision uses the new registry.
    """
    async with lock:  # one schema change at a time: activation follows commit order
        snapshot = await sync_tools(
            session=session, document=document, policy_dir=settings.policy_dir, actor=admin.actor
        )
        await session.commit()
        policies.activate(snapshot)
    tools = snapshot.tools.values()
    return ToolsOut(tools=[_listed(t) for t in tools], policy_version=snapshot.version)


@router.get("/tools")
async def get_tools(session: SessionDep, policies: PoliciesDep) -> ToolsOut:
    """The registry as a `tools/list` result (PUT it back unchanged), with action groups."""
    tools = await load_tools(session=session)
    version = policies.current.version if policies.current else None
    return ToolsOut(tools=[_listed(t) for t in tools], policy_version=version)
