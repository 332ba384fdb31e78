"""Start a real `mcp-pdp serve` process on loopback for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

CLI = [sys.executable, "-m", "service"]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run one `mcp-pdp` command to completion."""
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=60)


def prepare_demo(env: dict[str, str]) -> None:
    """Migrate and load the demo with the same commands `make run` uses."""
    root = Path(__file__).resolve().parent.parent
    for args in (
        ("migrate",),
        ("tools", "sync", str(root / "demo" / "tools.json")),
        ("seed", str(root / "demo" / "seed.json")),
    ):
        done = run_cli(env, *args)
        assert done.returncode == 0, done.stderr


def server_env(database_url: str, policy_dir: Path, **settings: str) -> dict[str, str]:
    """The environment for a server on `database_url` with `policy_dir`."""
    env = {
        **os.environ,
        "MCP_PDP_DATABASE_URL": database_url,
        "MCP_PDP_POLICY_DIR": str(policy_dir),
    }
    env.update({f"MCP_PDP_{k.upper()}": v for k, v in settings.items()})
    return env


@contextmanager
def running_server(
    env: dict[str, str], log_path: Path, *extra_args: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Serve until the block ends; yields the base URL (always loopback) and the process."""
    port = free_port()
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [*CLI, "serve", "--port", str(port), *extra_args], env=env, stdout=log, stderr=log
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if process.poll() is not None:
                    raise AssertionError(log_path.read_text())
                time.sleep(0.2)
            else:
                raise AssertionError("server did not become ready in 30 s")
            yield base, process
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=15)
