"""Starting and stopping the two servers on loopback, and what they hold in memory."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench" / ".cache"
CERBOS_VERSION = "0.51.0"
START_SECONDS = 300.0  # 5,000 policies x 1,000 tools take minutes to validate


def ensure_wrk() -> str:
    """The wrk binary; installed from Debian packages when missing and we are root."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        sys.exit("wrk is not installed: apt-get install wrk (Debian/Ubuntu)")
    subprocess.run(["apt-get", "update", "-qq"], check=True)  # noqa: S607
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)  # noqa: S607
    return shutil.which("wrk") or sys.exit("wrk did not install")


def ensure_cerbos() -> Path:
    """The Cerbos server binary the `cerbos` npm package ships, installed under bench/.cache.

    The package's `cerbos` command is a Node wrapper that execs the binary from
    the optional dependency `@cerbos/cerbos-<os>-<arch>`; we run that binary directly.
    """
    folder = CACHE / "cerbos"
    arch = {"x86_64": "x64", "aarch64": "arm64", "arm64": "arm64"}[os.uname().machine]
    system = {"Linux": "linux", "Darwin": "darwin"}[os.uname().sysname]
    binary = folder / "node_modules" / "@cerbos" / f"cerbos-{system}-{arch}"
    binary = binary / f"cerbos-{system}-{arch}"
    if not binary.exists():
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run(  # noqa: S603
            ["npm", "install", "--no-audit", "--no-fund", f"cerbos@{CERBOS_VERSION}"],  # noqa: S607
            cwd=folder,
            check=True,
        )
    return binary


def _wait(url: str, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode} while starting")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not become ready at {url}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a server and every process it started (a busy worker can outlive its master)."""
    pids = tree(process.pid)[1:]
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@contextmanager
def mcp_pdp(env: dict[str, str], *, port: int, workers: int, log: Path) -> Iterator[int]:
    """`bench.app` with `workers` processes, as `mcp-pdp serve` runs; yields the parent's pid."""
    command = [sys.executable, "-m", "bench.serve", str(port), str(workers)]
    # stdout is the decision log's stdout sink: written, then discarded here.
    with log.open("wb") as errors:
        process = subprocess.Popen(  # noqa: S603
            command,
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
        try:
            _wait(f"http://127.0.0.1:{port}/readyz", process, "mcp-pdp")
            yield process.pid
        finally:
            _stop(process)


@contextmanager
def cerbos(binary: Path, policy_dir: Path, *, port: int, log: Path) -> Iterator[int]:
    """Cerbos from its binary: disk storage, audit off, telemetry off, HTTP on loopback."""
    config = policy_dir.parent / "cerbos.yaml"
    config.write_text(
        json.dumps(
            {
                "server": {
                    "httpListenAddr": f"127.0.0.1:{port}",
                    "grpcListenAddr": f"127.0.0.1:{port + 1}",
                },
                "storage": {
                    "driver": "disk",
                    "disk": {"directory": str(policy_dir), "watchForChanges": False},
                },
                "audit": {"enabled": False},
                "telemetry": {"disabled": True},
            }
        )
    )
    env = {**os.environ, "CERBOS_NO_TELEMETRY": "1"}
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603
            [str(binary), "server", f"--config={config}", "--log-level=warn"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait(f"http://127.0.0.1:{port}/_cerbos/health", process, "cerbos")
            yield process.pid
        finally:
            _stop(process)


def tree(pid: int) -> list[int]:
    """A process and all its descendants (uvicorn's master and workers)."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        children = Path(f"/proc/{current}/task/{current}/children")
        if children.exists():
            pending.extend(int(c) for c in children.read_text().split())
    return found


def rss_mib(pid: int) -> float:
    """Resident memory of one process, MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def machine() -> dict[str, object]:
    """What the figures were measured on."""
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    memory = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gib": round(int(memory) / 2**20, 1),
        "kernel": os.uname().release,
        "python": sys.version.split()[0],
    }
