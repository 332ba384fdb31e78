"""What a newcomer meets first on the command line: the version, `--config`, a fresh database."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

import service
from service.cli.main import main
from service.observability.metrics import Metrics
from service.policies.holder import PolicyHolder
from service.policies.reloader import PolicyReloader
from service.settings import CONFIG_ENV, Settings
from service.store.db import create_engine, session_factory
from service.store.migrate import migrate
from tests.conftest import DEMO_SEED, DEMO_TOOLS, POLICY_DIR, ROOT, scratch_postgres
from tests.server import free_port

MCP_PDP = str(Path(sys.executable).parent / "mcp-pdp")
ADMIN_KEY = "newcomer-admin-key-0123456789abcdefghij"
NO_TABLES = "has no tables: run `mcp-pdp migrate`"
QUERY = '{"query": "q"}'


def run(*args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    """The real `mcp-pdp` command, with only the settings the test gives."""
    return subprocess.run(
        [MCP_PDP, *args], env=_env(**settings), capture_output=True, text=True, timeout=60
    )


def _env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCP_PDP_")}
    env["MCP_PDP_POLICY_DIR"] = str(POLICY_DIR)
    env.update({f"MCP_PDP_{name.upper()}": value for name, value in settings.items()})
    return env


@contextmanager
def serving(*args: str, **settings: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`mcp-pdp serve` until the block ends; yields its base URL once /healthz answers."""
    port = free_port()
    process = subprocess.Popen(
        [MCP_PDP, "serve", "--port", str(port), *args],
        env=_env(**settings),
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while process.poll() is None and time.monotonic() < deadline:
            try:
                httpx.get(f"{base}/healthz", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield base, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)


def test_the_version_comes_from_the_package_metadata() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert service.__version__ == version
    done = run("--version")
    assert (done.returncode, done.stdout.strip()) == (0, f"mcp-pdp {version}")


# --config after the command -------------------------------------------------------


def test_config_may_follow_every_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in [n for n in os.environ if n.startswith("MCP_PDP_")]:
        monkeypatch.delenv(name)
    monkeypatch.delenv(CONFIG_ENV, raising=False)  # main() sets it from --config
    database = tmp_path / "configured.db"
    config = tmp_path / "mcp-pdp.toml"
    config.write_text(f'database_url = "sqlite:///{database}"\npolicy_dir = "{POLICY_DIR}"\n')
    c = ["--config", str(config)]
    commands = [
        ["migrate", *c],
        ["tools", "sync", str(DEMO_TOOLS), *c],
        ["seed", str(DEMO_SEED), *c],
        ["roles", "put", "newcomer", "--parent", "analyst", *c],
        ["roles", "assign", "dave", "newcomer", *c],
        ["attributes", "set", "dave", "clearance=1", *c],
        ["check", *c],
        ["test", *c],
        ["schema", *c],
        ["fmt", "--check", *c],
        ["decide", "--principal", "dave", "--tool", "docs___search", "--arguments", QUERY, *c],
    ]
    for argv in commands:
        assert main(argv) == 0, (argv, capsys.readouterr())
        if argv[0] == "migrate":
            assert database.exists()  # the file named by the config, not ./mcp-pdp.db
    assert '"decision": "allow"' in capsys.readouterr().out  # dave's role, read from the file
    assert main([*c, "check"]) == 0  # before the command, as always


def test_serve_takes_config_after_the_command(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "serve.toml"
    config.write_text(f'database_url = "sqlite:///{tmp_path / "s.db"}"\nport = {port}\n')
    with subprocess.Popen(
        [MCP_PDP, "serve", "--config", str(config)],
        env=_env(),
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            assert process.stderr is not None
            lines = [process.stderr.readline()]
            while "serving on" not in lines[-1] and lines[-1] and len(lines) < 5:  # notes first
                lines.append(process.stderr.readline())
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=15)
    assert f"serving on http://127.0.0.1:{port}" in "".join(lines), lines


# The embedded database is migrated at first use -----------------------------------


def test_a_fresh_sqlite_database_is_migrated_by_the_first_command(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    done = run("tools", "sync", str(DEMO_TOOLS), database_url=url)
    assert done.returncode == 0, done.stderr
    done = run("check", database_url=url)
    assert done.returncode == 0, done.stderr
    assert "50 tools" in done.stdout


def test_policy_commands_on_a_fresh_sqlite_database_need_no_migrate(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    for argv in (["test"], ["schema"], ["decide", "--principal", "alice", "--tool", "x"]):
        done = run(*argv, database_url=url)
        assert "Traceback" not in done.stderr, (argv, done.stderr)
        assert "no such table" not in done.stderr, (argv, done.stderr)
    assert "action" in run("schema", database_url=url).stdout  # the generated schema


def test_serve_migrates_a_fresh_sqlite_database_and_makes_its_admin_key(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    with serving(database_url=url, bootstrap_admin_key=ADMIN_KEY) as (base, process):
        assert process.poll() is None, process.communicate()[1]
        keys = httpx.get(f"{base}/admin/v1/keys", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert keys.status_code == 200
    assert "not migrated" not in process.communicate()[1]


# PostgreSQL stays explicit: one line says what to do ------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize(
    "argv",
    [
        ["check"],
        ["test"],
        ["schema"],
        ["decide", "--principal", "alice", "--tool", "docs___search"],
        ["tools", "sync", str(DEMO_TOOLS)],
        ["roles", "put", "newcomer"],
    ],
    ids=lambda argv: argv[0],
)
def test_an_unmigrated_postgres_gets_one_line_saying_migrate(argv: list[str]) -> None:
    with scratch_postgres("mcp_pdp_newcomer") as url:
        done = run(*argv, database_url=url)
    assert done.returncode == 1, done.stderr
    database = url.rsplit("/", 1)[1]
    assert done.stderr.startswith("error: the database at postgresql"), done.stderr
    assert f"/{database} {NO_TABLES}" in done.stderr
    assert done.stderr.count("\n") == 1, done.stderr


@pytest.mark.postgres
def test_serve_on_an_unmigrated_postgres_with_a_bootstrap_key_says_migrate() -> None:
    with (
        scratch_postgres("mcp_pdp_newcomer") as url,
        serving(database_url=url, bootstrap_admin_key=ADMIN_KEY) as (_base, process),
    ):
        process.wait(timeout=30)
        stderr = process.communicate()[1]
    assert process.returncode == 1, stderr
    assert NO_TABLES in stderr
    assert "Traceback" not in stderr
    assert stderr.count("\n") == 1, stderr


@pytest.mark.postgres
def test_migrate_itself_still_works_on_postgres() -> None:
    with scratch_postgres("mcp_pdp_newcomer") as url:
        assert run("migrate", database_url=url).returncode == 0
        done = run("tools", "sync", str(DEMO_TOOLS), database_url=url)
    assert done.returncode == 0, done.stderr


# The policy watcher on a database without tables ---------------------------------


async def test_the_policy_watcher_says_migrate_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    engine = create_engine(url)
    reloader = PolicyReloader(
        holder=PolicyHolder(),
        policy_dir=POLICY_DIR,
        sessions=session_factory(engine),
        poll_seconds=0.05,
        metrics=Metrics(),
    )
    caplog.set_level(logging.INFO, logger="mcp_pdp.policies")
    reloader.start()
    try:
        await asyncio.sleep(0.6)  # a dozen polls on a database without tables
        first = [r for r in caplog.records if r.name == "mcp_pdp.policies"]
        migrate(Settings(database_url=url))  # now the tables exist, the registry is empty
        await asyncio.sleep(0.6)
        after = [r for r in caplog.records if r.name == "mcp_pdp.policies"][len(first) :]
    finally:
        await reloader.stop()
        await engine.dispose()
    texts = [f"{r.getMessage()} {getattr(r, 'error', '')}" for r in first]
    assert len(first) == 1, texts
    assert "the database has no tables: run `mcp-pdp migrate`" in texts[0]
    assert "SELECT" not in texts[0]
    later = [f"{r.getMessage()} {getattr(r, 'error', '')}" for r in after]
    assert len(after) == 1, later  # the error changed: said once more
    assert "the tool registry is empty" in later[0]
