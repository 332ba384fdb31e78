"""A serving worker keeps full garbage collections rare; tests and tools keep the defaults."""

from __future__ import annotations

import gc

from service.app import create_app
from tests.conftest import clean_database, demo_settings, load_demo


async def test_only_a_serving_app_tunes_the_collector(sqlite_database: str) -> None:
    clean_database(sqlite_database)
    await load_demo(sqlite_database)
    defaults = gc.get_threshold()
    plain = create_app(demo_settings(sqlite_database))
    async with plain.router.lifespan_context(plain):
        assert gc.get_threshold() == defaults
    serving = create_app(demo_settings(sqlite_database), serving=True)
    try:
        async with serving.router.lifespan_context(serving):
            assert gc.get_threshold() == (10_000, 50, 1000)
            assert gc.get_freeze_count() > 0  # start-up objects are left out of collections
    finally:
        gc.unfreeze()
        gc.set_threshold(*defaults)
