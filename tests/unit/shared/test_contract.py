"""The proto contract: generated code is fresh, buf lint passes, buf breaking finds no break since the previous
commit, and the README's settings table is true."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from linli.codegen import GENERATED_SUFFIXES, generate
from services.cli.settings_table import documented_settings_table

ROOT = Path(__file__).resolve().parents[3]


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


# CI runs in a fresh clone of main, so the previous commit of main is HEAD~1 there; in a work tree, uncommitted
# proto edits are compared with it too.
PREVIOUS_COMMIT = "HEAD~1"


def protos_at(commit: str, into: Path) -> Path:
    """protos/ as `commit` had it, unpacked under `into`; skips when this clone lacks that history."""
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed: buf breaking needs the previous commit's protos")
    found = subprocess.run(
        [git, "rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}"], cwd=ROOT, capture_output=True, check=False
    )
    if found.returncode != 0:
        pytest.skip(f"{commit} is not in this clone (shallow or no history): `git fetch --deepen=1` to check it")
    has_protos = subprocess.run([git, "cat-file", "-e", f"{commit}:protos"], cwd=ROOT, capture_output=True, check=False)
    if has_protos.returncode != 0:
        pytest.skip(f"{commit} has no protos/: there is no earlier contract to break")
    archive = subprocess.run(
        [git, "archive", "--format=tar", commit, "protos"], cwd=ROOT, capture_output=True, check=True
    )
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    return into / "protos"


def buf_breaking(protos: Path, against: Path) -> subprocess.CompletedProcess[str]:
    """`buf breaking` of `protos` against `against`, with the FILE rules of protos/buf.yaml."""
    return subprocess.run(
        [buf(), "breaking", str(protos), "--against", str(against)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_buf_breaking_finds_no_break_since_the_previous_commit(tmp_path: Path) -> None:
    result = buf_breaking(ROOT / "protos", protos_at(PREVIOUS_COMMIT, tmp_path))
    assert result.returncode == 0, f"breaking change against {PREVIOUS_COMMIT}:\n{result.stdout}{result.stderr}"


def test_buf_breaking_catches_a_changed_field_type(tmp_path: Path) -> None:
    changed = tmp_path / "protos"
    shutil.copytree(ROOT / "protos", changed)
    cases = changed / "linli" / "v1" / "cases.proto"
    original = cases.read_text(encoding="utf-8")
    mutated = original.replace("string id = 1;", "int64 id = 1;", 1)
    assert mutated != original, "cases.proto no longer has `string id = 1;`: pick another field to mutate"
    cases.write_text(mutated, encoding="utf-8")
    result = buf_breaking(changed, ROOT / "protos")
    assert result.returncode != 0
    assert 'name "id" on message "Case" changed type' in result.stdout, result.stdout + result.stderr


def test_readme_settings_table_matches_the_code() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert documented_settings_table() in readme, "README settings table is stale: paste `linli settings` into it"


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
