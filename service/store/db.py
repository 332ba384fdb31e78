"""Database engines from settings: async for the service, sync for migrations."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import ConnectionPoolEntry


def async_url(url: str) -> str:
    """The async-driver form of a configured URL."""
    if url.startswith("sqlite:"):
        return "sqlite+aiosqlite:" + url.removeprefix("sqlite:")
    if url.startswith("postgresql:") or url.startswith("postgres:"):
        return "postgresql+psycopg:" + url.split(":", 1)[1]
    return url


def sync_url(url: str) -> str:
    """The sync-driver form of a configured URL (for Alembic and the CLI)."""
    if url.startswith("sqlite+aiosqlite:"):
        return "sqlite:" + url.removeprefix("sqlite+aiosqlite:")
    if url.startswith("postgresql:") or url.startswith("postgres:"):
        return "postgresql+psycopg:" + url.split(":", 1)[1]
    return url


def _sqlite_pragmas(dbapi_connection: object, _record: ConnectionPoolEntry) -> None:
    # Foreign keys are off by default in SQLite; WAL lets readers run beside a writer.
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def configure_sqlite(engine: Engine) -> None:
    """Turn on the pragmas mcp-pdp relies on for every SQLite connection."""
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)


def create_engine(url: str, *, timeout_seconds: float = 2.0, pool_size: int = 10) -> AsyncEngine:
    """An async engine for the configured database URL."""
    url = async_url(url)
    connect_args: dict[str, object] = {}
    if url.startswith("postgresql"):
        connect_args = {"connect_timeout": max(1, int(timeout_seconds))}
    # A pre-ping costs a round trip per checkout; only a network database needs it
    # (a restarted server leaves dead pooled connections behind).
    is_network = url.startswith("postgresql")
    # No overflow: a connection opened for a burst and closed after it costs a
    # server process each time; waiting up to the timeout for a pooled one is cheaper.
    pool: dict[str, object] = {}
    if is_network:
        pool = {"pool_size": pool_size, "max_overflow": 0, "pool_timeout": timeout_seconds}
    engine = create_async_engine(url, pool_pre_ping=is_network, connect_args=connect_args, **pool)
    configure_sqlite(engine.sync_engine)
    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker:  # type: ignore[type-arg]
    """Sessions that keep loaded objects usable after commit.

    Each factory gets its own Session subclass, so session events listened for
    on it (store/changes.py) fire for this factory's sessions only.
    """
    sync_class = type("StoreSession", (Session,), {})
    return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=sync_class)
