"""Several worker processes, each accepting on a socket of its own (SO_REUSEPORT).

uvicorn's `--workers` shares one listening socket: whichever worker wakes first
accepts a whole burst of new connections. A gateway holds keep-alive
connections, so the split made in that first burst stays: under load we saw 14
of 16 connections on one of two workers while the other idled. With one
SO_REUSEPORT socket per worker the kernel spreads connections evenly (by a hash
of their addresses), and a worker that dies takes only its own socket with it.

The parent only supervises: it restarts a worker that exits, passes SIGHUP on
(every worker reloads its policies) and stops all of them on SIGTERM or SIGINT.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import socket
import sys
import time
from multiprocessing.process import BaseProcess
from typing import Any

log = logging.getLogger("mcp_pdp.workers")
STARTUP_FAILURE = 3  # uvicorn's exit code when the app cannot start
RESTART_PAUSE_SECONDS = 1.0


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port that other workers may bind too."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _worker(app: str, host: str, port: int, options: dict[str, Any]) -> None:
    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, **options)
    sock = listening_socket(host, port)
    uvicorn.Server(config).run(sockets=[sock])


class Supervisor:
    """Starts `count` workers serving `app` and keeps them running."""

    def __init__(self, app: str, *, host: str, port: int, count: int, **options: Any) -> None:
        self._host, self._port = host, port
        self._args = (app, host, port, options)
        self._count = count
        self._context = multiprocessing.get_context("spawn")
        self._workers: list[BaseProcess] = []
        self._stopping = False
        self._hangup = False

    def _start_one(self) -> BaseProcess:
        process = self._context.Process(target=_worker, args=self._args, name="mcp-pdp worker")
        process.start()
        return process

    def run(self) -> int:
        """Serve until SIGTERM or SIGINT; the exit code says whether workers could start."""
        # Fail here, in the foreground, if the port is taken by something else.
        try:
            listening_socket(self._host, self._port).close()
        except OSError as exc:
            where = f"{self._host}:{self._port}"
            print(f"cannot listen on {where}: {exc.strerror or exc}", file=sys.stderr)
            return STARTUP_FAILURE
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        signal.signal(signal.SIGHUP, self._on_hangup)
        self._workers = [self._start_one() for _ in range(self._count)]
        code = 0
        while not self._stopping:
            time.sleep(0.2)
            if self._hangup:
                self._hangup = False
                self._signal_all(signal.SIGHUP)
            for index, process in enumerate(self._workers):
                if process.is_alive() or self._stopping:
                    continue
                if process.exitcode == STARTUP_FAILURE:
                    print("a worker could not start; stopping", file=sys.stderr)
                    self._stopping, code = True, STARTUP_FAILURE
                    break
                log.warning(
                    "worker %s exited (%s); starting another", process.pid, process.exitcode
                )
                time.sleep(RESTART_PAUSE_SECONDS)
                self._workers[index] = self._start_one()
        self._signal_all(signal.SIGTERM)
        for process in self._workers:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
        return code

    def _signal_all(self, signum: int) -> None:
        for process in self._workers:
            if process.is_alive() and process.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signum)

    def _stop(self, _signum: int, _frame: object) -> None:
        self._stopping = True

    def _on_hangup(self, _signum: int, _frame: object) -> None:
        self._hangup = True
