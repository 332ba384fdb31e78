"""A real `mcp-pdp serve` process on loopback, set up by the same commands `make run` uses."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import DEMO_TOOLS, POLICY_DIR, scratch_postgres
from tests.server import free_port, prepare_demo, run_cli, running_server, server_env


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[str]:
    env = server_env(database_url, POLICY_DIR)
    prepare_demo(env)
    with running_server(env, tmp_path / "server.log") as (base, _process):
        yield base


def test_real_server_allows_and_denies(server: str) -> None:
    allow = httpx.post(
        f"{server}/v1/decisions",
        json={
            "claims": {"sub": "alice"},
            "method": "tools/call",
            "tool": "docs___search",
            "arguments": {"query": "q"},
        },
    ).json()
    deny = httpx.post(
        f"{server}/v1/decisions",
        json={
            "claims": {"sub": "alice"},
            "method": "tools/call",
            "tool": "files___delete",
            "arguments": {"path": "/tmp/x"},
        },
    ).json()
    assert (allow["decision"], allow["reasons"]) == ("allow", ["tools.cedar#analysts-read-tools"])
    assert deny["decision"] == "deny"
    assert deny["reasons"] == ["guardrails.cedar#writes-need-scope"]
    assert httpx.get(f"{server}/openapi.json").json()["paths"]["/v1/decisions"]


def test_real_server_logs_each_decision_to_stdout(database_url: str, tmp_path: Path) -> None:
    env = server_env(database_url, POLICY_DIR)
    prepare_demo(env)
    log_path = tmp_path / "server.log"
    with running_server(env, log_path) as (base, _process):
        body = {"claims": {"sub": "alice"}, "method": "tools/list"}
        decision_id = httpx.post(f"{base}/v1/decisions", json=body).json()["decision_id"]
    lines = [line for line in log_path.read_text().splitlines() if decision_id in line]
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert (record["decision_id"], record["decision"]) == (decision_id, "allow")


def test_invalid_policies_refuse_to_start(database_url: str, tmp_path: Path) -> None:
    for path in POLICY_DIR.glob("*.cedar*"):
        (tmp_path / path.name).write_text(path.read_text())
    env = {**os.environ, "MCP_PDP_DATABASE_URL": database_url, "MCP_PDP_POLICY_DIR": str(tmp_path)}
    assert run_cli(env, "migrate").returncode == 0
    assert run_cli(env, "tools", "sync", str(DEMO_TOOLS)).returncode == 0
    # Broken after the registry was saved (a sync would refuse it with these policies).
    (tmp_path / "broken.cedar").write_text(
        "permit (principal, action, resource);\n\npermit (principal, action, resource) when { principal.nope };\n"
    )
    done = run_cli(env, "serve", "--port", str(free_port()))
    assert done.returncode == 1
    assert "broken.cedar:3" in done.stderr
    assert "nope" in done.stderr


def test_beyond_loopback_caller_keys_are_required_by_default(
    database_url: str, tmp_path: Path
) -> None:
    admin_key = "k" * 40
    env = server_env(database_url, POLICY_DIR, bootstrap_admin_key=admin_key)
    prepare_demo(env)
    body = {"claims": {"sub": "alice"}, "method": "tools/list"}
    # Bound to every interface; the test itself talks to 127.0.0.1 only.
    with running_server(env, tmp_path / "server.log", "--host", "0.0.0.0") as (base, _process):
        assert httpx.post(f"{base}/v1/decisions", json=body).status_code == 401
        created = httpx.post(
            f"{base}/admin/v1/keys",
            json={"name": "interceptor", "scope": "decide", "trusted_claims": True},
            headers={"Authorization": f"Bearer {admin_key}"},
        )
        assert created.status_code in (200, 201), created.text
        key = created.json()["key"]
        answer = httpx.post(
            f"{base}/v1/decisions", json=body, headers={"Authorization": f"Bearer {key}"}
        )
        assert (answer.status_code, answer.json()["decision"]) == (200, "allow")
    assert admin_key not in (tmp_path / "server.log").read_text()
    assert key not in (tmp_path / "server.log").read_text()


def _workers(parent: int) -> set[int]:
    """Pids of the worker processes under `parent` (not multiprocessing's helpers)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and b"spawn_main" in command and b"resource_tracker" not in command:
            found.add(int(entry.name))
    return found


def _listeners(port: int) -> int:
    """How many sockets listen on 127.0.0.1:`port` (state 0A in /proc/net/tcp)."""
    wanted = f"0100007F:{port:04X}"
    rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(1 for row in rows if row.split()[1] == wanted and row.split()[3] == "0A")


def _until(condition: Callable[[], bool], seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def test_workers_listen_on_their_own_sockets_and_are_replaced(tmp_path: Path) -> None:
    env = server_env(f"sqlite:///{tmp_path / 'workers.db'}", POLICY_DIR)
    prepare_demo(env)
    with running_server(env, tmp_path / "server.log", "--workers", "2") as (base, process):
        port = int(base.rsplit(":", 1)[1])
        assert _until(lambda: len(_workers(process.pid)) == 2 and _listeners(port) == 2)
        victim = min(_workers(process.pid))
        os.kill(victim, signal.SIGKILL)
        replaced = _until(lambda: len(_workers(process.pid) - {victim}) == 2)
        assert replaced, (tmp_path / "server.log").read_text()
        assert _until(lambda: _listeners(port) == 2)
        assert httpx.get(f"{base}/readyz").status_code == 200
        workers = _workers(process.pid)
    assert process.returncode == 0  # SIGTERM: workers stopped, then the parent
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)


def test_workers_refuse_a_port_in_use(tmp_path: Path) -> None:
    env = server_env(f"sqlite:///{tmp_path / 'busy.db'}", POLICY_DIR)
    prepare_demo(env)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_cli(env, "serve", "--port", str(port), "--workers", "2")
    assert done.returncode == 3
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr


@pytest.mark.postgres
def test_serve_on_an_unmigrated_database_says_to_migrate() -> None:
    # SQLite is migrated at start; PostgreSQL is left to `mcp-pdp migrate` or a deploy job.
    with scratch_postgres("mcp_pdp_serve") as url:
        done = run_cli(server_env(url, POLICY_DIR), "serve", "--port", str(free_port()))
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("error: the database at postgresql")
    assert done.stderr.strip().endswith("has no tables: run `mcp-pdp migrate`")
