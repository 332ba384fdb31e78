"""The active policy snapshot, swapped whole; the last good set keeps serving."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.engine.policies import PolicySnapshot, load_snapshot
from service.store.tools import load_tools


@dataclass
class PolicyHolder:
    """Holds the active snapshot and the last load error, if any."""

    current: PolicySnapshot | None = None
    last_error: str | None = None

    def activate(self, snapshot: PolicySnapshot) -> None:
        """Swap in a new snapshot; readers holding the old one finish on it."""
        self.current = snapshot
        self.last_error = None

    def fail(self, message: str) -> None:
        """Record a failed load without touching the active snapshot."""
        self.last_error = message


async def compile_from_store(
    policy_dir: Path, sessions: async_sessionmaker[AsyncSession]
) -> PolicySnapshot:
    """Compile the policy folder against the tool registry in the database."""
    async with sessions() as session:
        tools = await load_tools(session=session)
    return load_snapshot(policy_dir, tools)
