"""What a newcomer meets first on the command line: the version, `--config`, a fresh database."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import service
from tests.conftest import ROOT

MCP_PDP = str(Path(sys.executable).parent / "mcp-pdp")


def run(*args: str, cwd: Path = ROOT, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The real `mcp-pdp` command, with only the settings the test gives."""
    return subprocess.run(
        [MCP_PDP, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_the_version_comes_from_the_package_metadata() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert service.__version__ == version
    done = run("--version")
    assert (done.returncode, done.stdout.strip()) == (0, f"mcp-pdp {version}")
