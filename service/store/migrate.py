"""Bring a database schema to the newest migration (Alembic, `migrations/`)."""

from __future__ import annotations

from pathlib import Path

from service.settings import Settings


def migrate(settings: Settings) -> None:
    """Bring the database schema to the newest migration."""
    from alembic import command
    from alembic.config import Config

    root = Path(__file__).resolve().parents[2]
    config = Config(str(root / "alembic.ini"))
    config.attributes["database_url"] = settings.database_url
    command.upgrade(config, "head")
