"""The tool registry. Functions take `session`, never commit."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.engine.policies import PolicySnapshot
from service.engine.tools import Tool
from service.store import audit, models


def _fingerprints(tools: Iterable[Tool]) -> dict[str, str]:
    """Tool name → short content hash: the audit log shows which tools changed, not MBs."""
    return {
        t.name: hashlib.sha256(
            json.dumps(
                [t.description, t.input_schema, t.annotations, list(t.tags)], sort_keys=True
            ).encode()
        ).hexdigest()[:16]
        for t in tools
    }


async def load_tools(*, session: AsyncSession) -> list[Tool]:
    """Every registered tool, by name."""
    rows = await session.scalars(select(models.Tool).order_by(models.Tool.name))
    return [Tool(r.name, r.description, r.input_schema, r.annotations, tuple(r.tags)) for r in rows]


async def replace_tools(
    *, session: AsyncSession, snapshot: PolicySnapshot, actor: str = "system"
) -> None:
    """Make the registry exactly the tools `snapshot` was compiled against.

    Taking the compiled snapshot, not bare tools, means no writer can save a
    registry the policies do not load with (see `service/policies/registry.py`).
    """
    tools = list(snapshot.tools.values())
    before = _fingerprints(await load_tools(session=session))
    await session.execute(delete(models.Tool))
    session.add_all(
        models.Tool(
            name=t.name,
            description=t.description,
            input_schema=t.input_schema,
            annotations=t.annotations,
            tags=list(t.tags),
        )
        for t in tools
    )
    await session.flush()
    after = _fingerprints(tools)
    await audit.record(
        session=session,
        actor=actor,
        action="tools.put",
        target_kind=audit.TOOLS,
        target="registry",
        before={"tools": before},
        after={"tools": after},
    )
