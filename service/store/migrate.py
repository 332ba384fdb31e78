"""Bring a database schema to the newest migration (Alembic, `migrations/`)."""

from __future__ import annotations

from pathlib import Path

from service.settings import Settings
from service.store.errors import NotMigrated

MIGRATE_HINT = "has no tables: run `mcp-pdp migrate`"
NO_TABLES = f"the database {MIGRATE_HINT}"


def migrate(settings: Settings) -> None:
    """Bring the database schema to the newest migration."""
    from alembic import command
    from alembic.config import Config

    root = Path(__file__).resolve().parents[2]
    config = Config(str(root / "alembic.ini"))
    config.attributes["database_url"] = settings.database_url
    command.upgrade(config, "head")


def is_missing_table(exc: BaseException) -> bool:
    """Whether a database error says a table does not exist (an unmigrated database)."""
    orig = getattr(exc, "orig", None)
    if getattr(orig, "sqlstate", None) == "42P01":  # PostgreSQL: undefined_table
        return True
    return "no such table" in str(orig)  # SQLite says it in words only


def is_embedded(database_url: str) -> bool:
    """Whether the URL names an embedded database (SQLite), a file only this service uses."""
    return database_url.startswith("sqlite")


def shown_url(database_url: str) -> str:
    """The URL with any password masked, fit for a message."""
    from sqlalchemy.engine import make_url

    return make_url(database_url).render_as_string(hide_password=True)


def schema_revision(settings: Settings) -> str | None:
    """The migration the database is at; None when it has no tables yet."""
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine

    from service.store.db import sync_url

    url = sync_url(settings.database_url)
    connect_args: dict[str, object] = {}
    if url.startswith("postgresql"):
        connect_args = {"connect_timeout": max(1, int(settings.db_timeout_seconds))}
    engine = create_engine(url, connect_args=connect_args)
    try:
        with engine.connect() as connection:
            revision: str | None = MigrationContext.configure(connection).get_current_revision()
            return revision
    finally:
        engine.dispose()


def ensure_schema(settings: Settings) -> None:
    """Migrate an embedded database at first use; refuse a server database without tables.

    SQLite is migrated here, as embedded databases are: nobody else shares the
    file. PostgreSQL is migrated explicitly (`mcp-pdp migrate`, a deploy job),
    so replicas starting together never race to upgrade one schema; here it
    only gets a clear `NotMigrated` instead of a missing-table error later.
    A database that does not answer raises SQLAlchemy's error.
    """
    if is_embedded(settings.database_url):
        migrate(settings)
    elif schema_revision(settings) is None:
        raise NotMigrated(f"the database at {shown_url(settings.database_url)} {MIGRATE_HINT}")
