"""The benchmark's PostgreSQL database: made fresh, migrated, filled for one world."""

from __future__ import annotations

import asyncio
import random
import tempfile
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import insert

from bench.world import DEPARTMENTS, ROLES, World
from service.policies.registry import sync_tools
from service.settings import Settings
from service.store.db import create_engine, session_factory
from service.store.keys import create_key
from service.store.migrate import migrate
from service.store.models import Principal, PrincipalAttribute, RoleAssignment
from service.store.roles import put_role

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
NAME = "mcp_pdp_bench"
URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{NAME}"


def recreate() -> None:
    """Drop and create the bench database, then migrate it."""
    with psycopg.connect(ADMIN_URL, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{NAME}"')
    migrate(Settings(database_url=URL))


async def _fill(world: World, principals: int) -> str:
    engine = create_engine(URL)
    try:
        async with session_factory(engine)() as session, session.begin():
            for role in ROLES:
                await put_role(session=session, name=role, actor="bench")
            # A gateway's key: `decide`, trusted to send claims (production shape).
            _, key = await create_key(
                session=session, actor="bench", name="bench", scope="decide", trusted_claims=True
            )
            rng = random.Random(11)  # noqa: S311 - reproducible data, not secrets
            ids = [f"u{k}" for k in range(1, principals + 1)]
            assignments: list[dict[str, Any]] = []
            attributes: list[dict[str, Any]] = []
            for pid in ids:
                for role in rng.sample(ROLES, rng.randint(1, 2)):
                    assignments.append({"principal_id": pid, "role": role, "reason": "bench"})
                department = rng.choice(DEPARTMENTS)
                attributes.append({"principal_id": pid, "name": "department", "value": department})
            if ids:
                await session.execute(insert(Principal), [{"id": pid} for pid in ids])
                await session.execute(insert(RoleAssignment), assignments)
                await session.execute(insert(PrincipalAttribute), attributes)
        await set_world(world)
        return key
    finally:
        await engine.dispose()


async def set_world(world: World) -> None:
    """Replace the tool registry with the world's tools, checked against its policies."""
    engine = create_engine(URL)
    try:
        with tempfile.TemporaryDirectory() as folder:
            world.write_policies(Path(folder))
            async with session_factory(engine)() as session, session.begin():
                await sync_tools(
                    session=session,
                    document=world.tools_list(),
                    policy_dir=Path(folder),
                    actor="bench",
                )
    finally:
        await engine.dispose()


def prepare(world: World, *, principals: int) -> str:
    """A fresh database for `world` with `principals` stored principals; returns a decide key."""
    recreate()
    return asyncio.run(_fill(world, principals))


def switch_world(world: World) -> None:
    """Point the registry at another world's tools (the server is restarted after)."""
    asyncio.run(set_world(world))
