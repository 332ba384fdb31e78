"""Replacing the tool registry: the one way in, for the admin API, the CLI and seeding.

A registry is saved only after the full schema and the current policies compile
against it, so the service can always load what was committed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from service.engine.errors import PolicyLoadError
from service.engine.policies import PolicySnapshot, load_snapshot
from service.engine.tools import Tool, ToolDefinitionError, tools_from_list_result
from service.store.tools import replace_tools


class RegistryRefused(ToolDefinitionError):
    """A tool registry the policies do not compile against; nothing was saved."""


def check_registry(policy_dir: Path, tools: Iterable[Tool]) -> PolicySnapshot:
    """Compile the full schema and the policies against `tools`; RegistryRefused if they fail."""
    try:
        return load_snapshot(policy_dir, tools)
    except PolicyLoadError as exc:
        raise RegistryRefused(
            f"tool registry not saved: the policies do not compile against it: {exc}"
        ) from exc


async def sync_tools(
    *, session: AsyncSession, document: Any, policy_dir: Path, actor: str = "seed"
) -> PolicySnapshot:
    """Replace the registry with a `tools/list` result once it compiles; does not commit.

    Returns the snapshot compiled against the new registry, for the caller to activate.
    """
    tools = tools_from_list_result(document)
    snapshot = await asyncio.to_thread(check_registry, policy_dir, tools)
    await replace_tools(session=session, snapshot=snapshot, actor=actor)
    return snapshot
