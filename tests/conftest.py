"""Shared fixtures: real SQLite and PostgreSQL databases, the demo data, an app client."""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import create_engine, text

from service.app import create_app
from service.policies.registry import sync_tools
from service.settings import Settings
from service.store.db import create_engine as create_async_db
from service.store.db import session_factory, sync_url
from service.store.migrate import migrate
from service.store.models import Base
from service.store.seed import apply_seed
from tests.idp import LoopbackIdP

ROOT = Path(__file__).resolve().parent.parent
POLICY_DIR = ROOT / "policies"
DEMO_TOOLS = ROOT / "demo" / "tools.json"
DEMO_SEED = ROOT / "demo" / "seed.json"
PG_ADMIN_URL = os.environ.get("MCP_PDP_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
# The databases that `database_url` runs each test on; `MCP_PDP_TEST_DATABASES=sqlite`
# (`make test-fast`) needs no PostgreSQL server.
DATABASES = os.environ.get("MCP_PDP_TEST_DATABASES", "sqlite,postgres").replace(",", " ").split()
if not DATABASES or set(DATABASES) - {"sqlite", "postgres"}:
    raise pytest.UsageError(f"MCP_PDP_TEST_DATABASES: {DATABASES}; expected sqlite and/or postgres")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark `postgres` every test that reaches the PostgreSQL server, for `-m "not postgres"`."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        params = callspec.params.values() if callspec else ()
        if "postgres_database" in getattr(item, "fixturenames", ()) or "postgres" in params:
            item.add_marker(pytest.mark.postgres)


def _pg_url(database: str) -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base.replace('postgresql://', 'postgresql+psycopg://')}/{database}"


@contextmanager
def scratch_postgres(prefix: str) -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped when the block ends."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _pg_url(name)
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, dropped at the end."""
    if "postgres" not in DATABASES:
        pytest.skip("MCP_PDP_TEST_DATABASES leaves PostgreSQL out")
    with scratch_postgres("mcp_pdp_test") as url:
        yield url


@pytest.fixture(scope="session")
def sqlite_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite file for this test run."""
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'mcp-pdp.db'}"


_migrated: set[str] = set()


def clean_database(url: str) -> None:
    """Migrate once per run, then empty every table so each test starts clean."""
    if url not in _migrated:
        migrate(Settings(database_url=url))
        _migrated.add(url)
    engine = create_engine(sync_url(url))
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(text(f"DELETE FROM {table.name}"))
    engine.dispose()


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest) -> str:
    """Each test that takes this runs once on SQLite and once on PostgreSQL (see DATABASES)."""
    url: str = request.getfixturevalue(f"{request.param}_database")
    clean_database(url)
    return url


async def load_demo(url: str) -> None:
    """Register the demo tools and apply the demo seed, in one transaction."""
    engine = create_async_db(url)
    try:
        async with session_factory(engine)() as session, session.begin():
            demo = json.loads(DEMO_TOOLS.read_text())
            await sync_tools(session=session, document=demo, policy_dir=POLICY_DIR)
            await apply_seed(session=session, document=json.loads(DEMO_SEED.read_text()))
    finally:
        await engine.dispose()


def demo_settings(url: str, **overrides: Any) -> Settings:
    """Settings for a test app on `url` with the demo policies."""
    return Settings(**{"database_url": url, "policy_dir": POLICY_DIR, **overrides})


@pytest.fixture
async def client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the demo app (ASGI transport, lifespan run)."""
    await load_demo(database_url)
    app = create_app(demo_settings(database_url))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://pdp") as http:
            http.app = app  # type: ignore[attr-defined]
            yield http


ADMIN_KEY = "test-bootstrap-admin-key-0123456789abcdef"


@asynccontextmanager
async def app_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on an app built from `settings`, lifespan run."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://pdp") as http:
            http.app = app  # type: ignore[attr-defined]
            yield http


@pytest.fixture
async def admin(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client on the demo app that sends the bootstrap admin key with every request."""
    await load_demo(database_url)
    settings = demo_settings(database_url, bootstrap_admin_key=ADMIN_KEY)
    async with app_client(settings) as http:
        http.headers["Authorization"] = f"Bearer {ADMIN_KEY}"
        yield http


def decision_body(**fields: Any) -> dict[str, Any]:
    """A decision request with claims for `sub` (default alice) and a tools/call."""
    body: dict[str, Any] = {"method": "tools/call"}
    body.update(fields)
    if "token" not in body:
        claims = body.setdefault("claims", {})
        claims.setdefault("sub", "alice")
    return body


def demo_tools() -> list[dict[str, Any]]:
    """The demo registry's tools/list entries."""
    tools: list[dict[str, Any]] = json.loads(DEMO_TOOLS.read_text())["tools"]
    return tools


async def logged_decisions(app: Any) -> list[dict[str, Any]]:
    """Flush the decision log and read back the rows it wrote to the database."""
    from sqlalchemy import select

    from service.store.models import DecisionLogRow

    await app.state.runtime.decision_log.flush()
    async with app.state.runtime.database.connect() as conn:
        rows = (await conn.execute(select(DecisionLogRow).order_by(DecisionLogRow.time))).all()
    return [dict(row._mapping) for row in rows]


class Records(logging.Handler):
    """A log handler that keeps every record, for asserting on what was logged."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def idp() -> Iterator[LoopbackIdP]:
    """A loopback identity provider with an RS256 (`k1`) and an ES256 (`e1`) key."""
    with LoopbackIdP() as server:
        server.add_key("k1")
        server.add_key("e1", "ES256")
        yield server


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    """A copy of the demo policies this test may edit."""
    folder = tmp_path / "policies"
    shutil.copytree(POLICY_DIR, folder)
    return folder
