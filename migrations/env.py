"""Alembic environment: the URL comes from mcp-pdp's settings."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from service.settings import Settings
from service.store.db import configure_sqlite, sync_url
from service.store.models import Base

config = context.config
url = config.attributes.get("database_url") or Settings().database_url


def run_migrations() -> None:
    """Run migrations online against the configured database."""
    engine = create_engine(sync_url(url))
    configure_sqlite(engine)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            compare_type=True,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
