"""The walls between services (docs/adr/0009): import-linter's contracts hold and no imports go round in a cycle."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[3]
ROOT_PACKAGES = ("linli", "services")


def strongly_connected(edges: Mapping[str, Iterable[str]]) -> list[set[str]]:
    """The groups of nodes that import each other in a cycle (Tarjan), each of two or more nodes."""
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        order[node] = low[node] = len(order)
        stack.append(node)
        for target in edges.get(node, ()):
            if target not in order:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], order[target])
        if low[node] == order[node]:
            group = {stack.pop()}
            while node not in group:
                group.add(stack.pop())
            if len(group) > 1:
                groups.append(group)

    for node in sorted(edges):
        if node not in order:
            visit(node)
    return groups


def top_level_unit(module: str) -> str:
    """`linli.catalog.loader` -> `linli.catalog`: the package or module right under a root package."""
    return ".".join(module.split(".")[:2])


def module_edges(graph: grimp.ImportGraph) -> dict[str, set[str]]:
    return {module: set(graph.find_modules_directly_imported_by(module)) for module in graph.modules}


def unit_edges(graph: grimp.ImportGraph) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for module, targets in module_edges(graph).items():
        unit = top_level_unit(module)
        edges.setdefault(unit, set()).update(
            top_level_unit(target) for target in targets if top_level_unit(target) != unit
        )
    return edges


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*ROOT_PACKAGES, cache_dir=None)


def lint_imports_command() -> str:
    beside_python = Path(sys.executable).with_name("lint-imports")
    found = str(beside_python) if beside_python.is_file() else shutil.which("lint-imports")
    if found is None:
        pytest.fail("lint-imports is missing: install the dev extras (pip install -e '.[dev]')")
    return found


def test_import_linter_contracts_hold() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [lint_imports_command(), "--no-cache"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_no_cycle_between_top_level_packages(graph: grimp.ImportGraph) -> None:
    assert strongly_connected(unit_edges(graph)) == []


def test_no_module_cycle_in_the_shared_package_or_any_service(graph: grimp.ImportGraph) -> None:
    # TYPE_CHECKING imports count too: a cycle hidden from the interpreter is still a knot for the reader.
    assert strongly_connected(module_edges(graph)) == []


def test_the_cycle_check_finds_a_cycle() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert strongly_connected(edges) == [{"a", "b", "c"}]
    assert strongly_connected({"a": {"b"}, "b": set()}) == []


def test_units_are_the_packages_under_a_root() -> None:
    assert top_level_unit("linli.catalog.loader") == "linli.catalog"
    assert top_level_unit("services.intake.tickets.flows") == "services.intake"
    assert top_level_unit("linli") == "linli"
