"""The container image installs `deploy/requirements.txt`: it must pin every runtime dependency."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

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


def test_the_image_lock_fits_every_version_range() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = (ROOT / "deploy" / "requirements.txt").read_text().splitlines()
    pins = dict(line.split("==", 1) for line in lines if line and not line.startswith("#"))
    pinned = {_name(name): version for name, version in pins.items()}
    outside = [
        f"{requirement} (image: {pinned[_name(requirement.name)]})"
        for requirement in map(Requirement, project["dependencies"])
        if not requirement.specifier.contains(pinned[_name(requirement.name)], prereleases=True)
    ]
    assert not outside, f"run `make deploy-lock`: the image pins {outside}"
