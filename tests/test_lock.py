"""One lock file, uv.lock, installs development, CI and the image; it must match pyproject.toml."""

from __future__ import annotations

import re
import shlex
import subprocess
import tomllib
from pathlib import Path

from uv import find_uv_bin

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = (ROOT / "deploy" / "Dockerfile").read_text()


def _required_uv() -> str:
    pinned = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["uv"]["required-version"]
    assert pinned.startswith("=="), f"pin uv exactly in pyproject.toml, not {pinned!r}"
    return str(pinned[2:])


def test_the_lock_is_current_with_pyproject() -> None:
    # --offline: the check compares the lock with pyproject.toml and needs no index.
    done = subprocess.run(
        [find_uv_bin(), "lock", "--check", "--offline"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, f"run `make lock`: uv.lock is stale\n{done.stderr}"


def test_every_locked_file_carries_its_hash() -> None:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    unhashed = [
        f"{package['name']} {file.get('url', '')}"
        for package in lock["package"]
        if "registry" in package["source"]
        for file in [*package.get("wheels", []), *filter(None, [package.get("sdist")])]
        if not str(file.get("hash", "")).startswith("sha256:")
    ]
    assert not unhashed, unhashed


def test_the_image_installs_from_the_lock_only() -> None:
    runs = re.findall(r"^RUN (.+?)(?<!\\)$", DOCKERFILE, flags=re.M | re.S)
    installs = [
        shlex.split(run.replace("\\\n", " ")) for run in runs if "install" in run or "sync" in run
    ]
    assert "COPY pyproject.toml uv.lock ./" in DOCKERFILE
    assert ["pip", "install", "--no-compile", f"uv=={_required_uv()}"] in installs
    syncs = [words for words in installs if words[:2] == ["uv", "sync"]]
    assert syncs and all("--locked" in words for words in syncs), syncs
    assert not any("--extra" in words or "--all-extras" in words for words in syncs), syncs
    assert len(installs) == len(syncs) + 1, f"an install that bypasses uv.lock: {installs}"
    ignored = (ROOT / "deploy" / "Dockerfile.dockerignore").read_text().splitlines()
    assert {"!pyproject.toml", "!uv.lock"} <= set(ignored)


def test_make_and_the_image_pin_the_uv_that_pyproject_requires() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^UV_VERSION := (\S+)$", makefile, flags=re.M)[1] == _required_uv()
    assert re.findall(r"uv==([\w.]+)", DOCKERFILE) == [_required_uv()]
