"""docs/architecture.md's module map lists every package folder, and what each may import is what it imports.

The map is the newcomer's view of the walls (ADR 0009); import-linter's contracts in pyproject.toml are the machine's.
These tests keep the two in step: a new folder, an import across a wall, or a row that allows what a contract forbids
fails here.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[3]
ARCHITECTURE = ROOT / "docs" / "architecture.md"
MAP_START, MAP_END = "<!-- module-map:start -->", "<!-- module-map:end -->"
ROW = re.compile(r"^\|\s*`(?P<folder>[\w/]+)/`\s*\|(?P<owns>[^|]+)\|(?P<imports>[^|]+)\|\s*$")


def module_map() -> dict[str, tuple[str, ...]]:
    """Folder (dotted, e.g. `services.intake.tickets`) -> the package prefixes its modules may import."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    table = text[text.index(MAP_START) : text.index(MAP_END)]
    rows: dict[str, tuple[str, ...]] = {}
    for line in table.splitlines():
        found = ROW.match(line)
        if found is None:
            continue
        allowed = tuple(name.strip(" `") for name in found["imports"].split(",") if name.strip(" `"))
        rows[found["folder"].replace("/", ".")] = allowed
    return rows


def package_folders() -> set[str]:
    return {
        ".".join(init.parent.relative_to(ROOT).parts)
        for root in ("linli", "services")
        for init in (ROOT / root).rglob("__init__.py")
    }


def owning_folder(module: str, folders: set[str]) -> str:
    """The deepest listed folder a module lives in (`services.intake.tickets.flows` -> `services.intake.tickets`)."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in folders:
            return candidate
    raise AssertionError(f"{module} lies in no listed folder")


def within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes)


@pytest.fixture(scope="module")
def rows() -> dict[str, tuple[str, ...]]:
    return module_map()


def test_the_map_lists_every_package_folder_once(rows: dict[str, tuple[str, ...]]) -> None:
    assert sorted(rows) == sorted(package_folders())


def test_every_folder_imports_only_what_its_row_allows(rows: dict[str, tuple[str, ...]]) -> None:
    graph = grimp.build_graph("linli", "services")
    folders = set(rows)
    crossings = sorted(
        f"{module} -> {imported}"
        for module in graph.modules
        for imported in graph.find_modules_directly_imported_by(module)
        if not within(imported, (owning_folder(module, folders), *rows[owning_folder(module, folders)]))
    )
    assert crossings == []


def test_no_row_allows_what_an_import_contract_forbids(rows: dict[str, tuple[str, ...]]) -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    allowed_breaches: list[str] = []
    for contract in contracts:
        if contract["type"] == "independence":
            pairs = [(a, b) for a in contract["modules"] for b in contract["modules"] if a != b]
        elif contract["type"] == "forbidden":
            pairs = [(a, b) for a in contract["source_modules"] for b in contract["forbidden_modules"]]
        else:
            continue
        allowed_breaches += [
            f"{folder} may import {prefix} ({contract['name']})"
            for source, target in pairs
            for folder, prefixes in rows.items()
            if within(folder, (source,))
            for prefix in prefixes
            if within(prefix, (target,)) or within(target, (prefix,))
        ]
    assert allowed_breaches == []
