"""A Redis server of a test's own, on a free loopback port, that the test may kill."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import redis

from tests.server import free_port


class OwnRedis:
    """`redis-server` without persistence; start, kill, pause and resume it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the server and wait until it answers."""
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed"
        self._process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_timeout=0.5)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if client.ping():
                    client.close()
                    return
            except redis.RedisError:
                time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def kill(self) -> None:
        """SIGKILL the server (its data is gone: nothing is persisted)."""
        if self._process is not None:
            self._process.kill()
            self._process.wait(timeout=10)
            self._process = None

    def pause(self) -> None:
        """Stop the process: connections hang, calls time out."""
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Let a paused server run again."""
        assert self._process is not None
        self._process.send_signal(signal.SIGCONT)

    def decision_keys(self) -> list[bytes]:
        """The decision cache keys the server holds."""
        client = redis.Redis(port=self.port, socket_timeout=1)
        try:
            return list(client.scan_iter("mcp-pdp:decision:*"))
        finally:
            client.close()


@contextmanager
def own_redis() -> Iterator[OwnRedis]:
    """A started server, killed at the end whatever happened."""
    server = OwnRedis(free_port())
    server.start()
    try:
        yield server
    finally:
        if server._process is not None:
            server.resume()
        server.kill()
