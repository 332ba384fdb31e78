"""The container image installs `deploy/requirements.txt`: it must pin every runtime dependency."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _name(requirement: str) -> str:
    """The normalised distribution name of a requirement line (PEP 503)."""
    bare = re.split(r"[\[<>=!~;\s]", requirement, maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", bare).lower()


def test_the_image_lock_pins_every_runtime_dependency() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = (ROOT / "deploy" / "requirements.txt").read_text().splitlines()
    pinned = {_name(line) for line in lines if line and not line.startswith("#")}
    missing = {_name(d) for d in project["dependencies"]} - pinned
    assert not missing, f"run `make deploy-lock`: {sorted(missing)} not pinned for the image"
