"""Production code stays readable in pieces: modules of at most 400 lines, functions of at most 60 (docstrings aside).

Generated code (linli/v1/*_pb2*) is left out; tests and benchmarks are not production code.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def production_modules() -> list[Path]:
    return sorted(
        path for package in ("linli", "services") for path in (ROOT / package).rglob("*.py") if "_pb2" not in path.name
    )


def code_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """The function's lines, its docstring left out: what it documents is not what makes it long."""
    total = (node.end_lineno or node.lineno) - node.lineno + 1
    first = node.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        total -= (first.end_lineno or first.lineno) - first.lineno + 1
    return total


def test_no_production_module_is_over_400_lines() -> None:
    long_modules = {
        str(path.relative_to(ROOT)): lines
        for path in production_modules()
        if (lines := path.read_text(encoding="utf-8").count("\n")) > MAX_MODULE_LINES
    }
    assert long_modules == {}


def test_no_production_function_is_over_60_lines() -> None:
    long_functions = {
        f"{path.relative_to(ROOT)}:{node.lineno} {node.name}": code_lines(node)
        for path in production_modules()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and code_lines(node) > MAX_FUNCTION_LINES
    }
    assert long_functions == {}
