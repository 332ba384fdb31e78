"""`make test-fast`: MCP_PDP_TEST_DATABASES=sqlite with `-m "not postgres"` reaches no PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT

# A test on `database_url`, one on `postgres_database` through a fixture, one parametrized.
FILES = ["tests/test_admin_roles.py", "tests/test_changes.py", "tests/test_migrations.py"]

COLLECT = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]


def _collected(*options: str, databases: str | None) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "MCP_PDP_TEST_DATABASES"}
    if databases is not None:
        env["MCP_PDP_TEST_DATABASES"] = databases
    done = subprocess.run(
        [*COLLECT, *options, *FILES],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return [line for line in done.stdout.splitlines() if "::" in line]


def test_sqlite_only_collects_no_postgres_test() -> None:
    fast = _collected("-m", "not postgres", databases="sqlite")
    full = _collected(databases=None)
    assert fast and not [test for test in fast if "postgres" in test], fast
    assert "tests/test_admin_roles.py::test_create_update_and_list[sqlite]" in fast
    assert "tests/test_changes.py::test_kept_until_a_notice_names_them" not in fast
    assert "tests/test_changes.py::test_kept_until_a_notice_names_them" in full
    assert any("[postgres]" in test for test in full)
    assert set(fast) < set(full)


def test_an_unknown_database_name_is_refused() -> None:
    env = {**os.environ, "MCP_PDP_TEST_DATABASES": "mysql"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
            FILES[0],
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "MCP_PDP_TEST_DATABASES" in done.stdout + done.stderr
