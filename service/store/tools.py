"""The tool registry. Functions take `session`, never commit."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.engine.tools import Tool
from service.store import models


async def load_tools(*, session: AsyncSession) -> list[Tool]:
    """Every registered tool, by name."""
    rows = await session.scalars(select(models.Tool).order_by(models.Tool.name))
    return [Tool(r.name, r.description, r.input_schema, r.annotations, tuple(r.tags)) for r in rows]


async def replace_tools(*, session: AsyncSession, tools: Iterable[Tool]) -> None:
    """Make the registry exactly `tools` (a `tools/list` result replaces the last one)."""
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
