"""The proto contract: generated code is fresh, buf lint passes, and the README's settings table is true."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from linli.codegen import GENERATED_SUFFIXES, generate
from linli.settings import settings_table

ROOT = Path(__file__).resolve().parents[2]


def test_generated_code_matches_the_protos(tmp_path: Path) -> None:
    fresh = {path.name: path.read_bytes() for path in generate(tmp_path)}
    committed = {
        path.name: path.read_bytes()
        for path in (ROOT / "linli" / "v1").iterdir()
        if path.name.endswith(GENERATED_SUFFIXES)
    }
    assert sorted(fresh) == sorted(committed), "run `make protos`: generated files differ from the protos"
    stale = [name for name in fresh if fresh[name] != committed[name]]
    assert not stale, f"run `make protos`: stale generated code in {stale}"


def buf() -> str:
    path = ROOT / "node_modules" / ".bin" / "buf"
    if not path.exists():
        pytest.fail("buf is missing: run `make setup` (npm ci installs @bufbuild/buf)")
    return str(path)


def test_buf_lint_is_clean() -> None:
    result = subprocess.run([buf(), "lint"], cwd=ROOT / "protos", capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_readme_settings_table_matches_the_code() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert settings_table() in readme, "README settings table is stale: paste `linli settings` into it"


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", "."],
        ["ruff", "format", "--check", "."],
        ["mypy", "linli", "services", "tests"],
    ],
    ids=["ruff", "ruff-format", "mypy"],
)
def test_code_is_lint_clean(command: list[str]) -> None:
    tool = shutil.which(command[0], path=str(Path(sys.executable).parent))
    assert tool, f"{command[0]} is not installed in this environment"
    result = subprocess.run([tool, *command[1:]], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
