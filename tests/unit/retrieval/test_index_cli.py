"""`linli index build|stats`: a corpus into a local case store and index, resumable, and a read-only report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from services.cli.main import build_parser
from services.cli.main import main as linli_main
from services.retrieval.index_admin import IndexAdminError, build_index, read_stats, run_index_command
from services.retrieval.settings import RetrievalSettings
from services.retrieval.snapshots import SnapshotStore
from tests.unit.fakes import HashEmbedder

PARTIES = ("property_manager", "owners_committee", "street_office")


def case_row(i: int, **changes: Any) -> dict[str, Any]:
    row = {
        "id": f"c-{i}",
        "complaint": f"第{i}号投诉:楼道的灯坏了",
        "resolution": f"第{i}号处理:已更换灯泡",
        "party": PARTIES[i % 3],
        "community": "恒康居民区",
        "resolved_at": "2024-03-01T10:00:00+08:00",
    }
    return {**row, **changes}


def write_corpus(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.fixture
def settings(tmp_path: Path) -> RetrievalSettings:
    # A tiny stand-in model folder: the snapshot manifest fingerprints it instead of the real 90 MB model.
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}", encoding="utf-8")
    return RetrievalSettings(index_dir=tmp_path / "index", model_path=model, hnsw_threshold=50)


def run(argv: list[str], settings: RetrievalSettings) -> int:
    return run_index_command(build_parser().parse_args(argv), embedder=HashEmbedder(), settings=settings)


def test_build_then_stats(
    tmp_path: Path, settings: RetrievalSettings, capsys: pytest.CaptureFixture[str]
) -> None:  # fmt: skip
    corpus = write_corpus(tmp_path / "cases.jsonl", [case_row(i) for i in range(30)])
    assert run(["index", "build", "--corpus", str(corpus)], settings) == 0
    out, err = capsys.readouterr()
    assert out.startswith("30 added, 0 updated, 0 unchanged")
    assert "30/30" in err  # the progress bar goes to stderr, the summary to stdout

    assert run(["index", "stats"], settings) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "cases: 30 (30 resolved)" in lines
    assert "model: hash-embedder (30 cases)" in lines
    assert "dimension: 32" in lines
    assert "per party: owners_committee 10, property_manager 10, street_office 10" in lines
    assert "index kind: flat in the newest snapshot; a rebuild makes flat (HNSW from 50 cases)" in lines
    assert "  count: 30" in lines
    assert "  model: hash-embedder" in lines


def test_rerunning_resumes_and_keeps_ids(tmp_path: Path, settings: RetrievalSettings) -> None:
    rows = [case_row(i) for i in range(60)]
    rows[5] = case_row(5, complaint="楼上漏水,请联系我13812345678")  # stored scrubbed: still "unchanged" on re-run
    first = build_index(
        write_corpus(tmp_path / "half.jsonl", rows[:25]), settings, progress=False, embedder=HashEmbedder()
    )
    assert (first.added, first.updated, first.unchanged) == (25, 0, 0)
    # As if the first run had been interrupted at case 25, and one already stored case was corrected since.
    rows[3] = case_row(3, resolution="改由业委会处理", party="owners_committee")
    again = build_index(write_corpus(tmp_path / "all.jsonl", rows), settings, progress=False, embedder=HashEmbedder())
    assert (again.added, again.updated, again.unchanged) == (35, 1, 24)
    assert again.case_count == 60
    assert "HNSW" in again.index_type  # crossed the threshold of 50: the snapshot holds the final kind
    stats = read_stats(settings.index_dir, hnsw_threshold=settings.hnsw_threshold)
    assert stats.case_count == 60
    assert stats.parties["owners_committee"] == 21
    assert stats.manifest is not None
    assert (stats.manifest.kind, stats.manifest.count) == ("hnsw", 60)
    found = SnapshotStore(settings.index_dir / "snapshots").newest_valid(
        model_checksum=stats.manifest.model_checksum, dimension=32
    )
    assert found is not None
    assert found.index.ntotal == 60  # rebuilt before the snapshot: the replaced case left no tombstone behind


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([case_row(0), case_row(1, resolution="")], "corpus[1].resolution: a resolved case needs its resolution"),
        ([case_row(0), case_row(0)], "corpus[1].id: duplicate id 'c-0'"),
        ([case_row(0), case_row(1, party=None)], "party must be a string, got NoneType"),
        ([case_row(0, complaint="楼道灯坏了"), {"id": "c-1"}], "cases.jsonl:2: not a case"),
        ([], "holds no cases"),
    ],
)
def test_a_bad_corpus_is_refused_before_anything_is_written(
    tmp_path: Path, settings: RetrievalSettings, rows: list[dict[str, Any]], message: str
) -> None:
    corpus = write_corpus(tmp_path / "cases.jsonl", rows)
    with pytest.raises(IndexAdminError, match=message.replace("[", r"\[").replace("]", r"\]")):
        build_index(corpus, settings, progress=False, embedder=HashEmbedder())
    assert not settings.index_dir.exists()


def test_moving_a_case_to_another_community_fails_with_a_message(
    tmp_path: Path, settings: RetrievalSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["index", "build", "--corpus", str(write_corpus(tmp_path / "a.jsonl", [case_row(0)]))], settings) == 0
    moved = write_corpus(tmp_path / "b.jsonl", [case_row(0, community="别的小区")])
    assert run(["index", "build", "--corpus", str(moved)], settings) == 1
    assert "linli index build: case 'c-0' exists in community '恒康居民区'" in capsys.readouterr().err


def test_a_missing_model_is_a_clear_error(
    tmp_path: Path, settings: RetrievalSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = write_corpus(tmp_path / "c.jsonl", [case_row(0)])
    no_model = settings.model_copy(update={"model_path": tmp_path})  # a folder without config.json
    assert (
        run_index_command(build_parser().parse_args(["index", "build", "--corpus", str(corpus)]), settings=no_model)
        == 1
    )
    assert f"no sentence-transformers model in {tmp_path}" in capsys.readouterr().err
    assert not settings.index_dir.exists()


def test_a_missing_corpus_or_folder_is_a_clear_error(
    tmp_path: Path, settings: RetrievalSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["index", "build", "--corpus", str(tmp_path / "nope.jsonl")], settings) == 1
    assert f"no corpus file at {tmp_path / 'nope.jsonl'}" in capsys.readouterr().err
    empty = tmp_path / "empty"
    assert linli_main(["index", "stats", "--index-dir", str(empty)]) == 1
    assert f"no case store at {empty / 'cases.sqlite'}" in capsys.readouterr().err
    assert not empty.exists()  # stats reads; it never creates a folder or a store


def test_stats_through_the_linli_command_reads_files_only(
    tmp_path: Path, settings: RetrievalSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    build_index(write_corpus(tmp_path / "c.jsonl", [case_row(i) for i in range(4)]), settings, progress=False,
                embedder=HashEmbedder())  # fmt: skip
    (settings.index_dir / "snapshots").joinpath("not-a-snapshot").mkdir()  # unreadable manifest: skipped
    assert linli_main(["index", "stats", "--index-dir", str(settings.index_dir)]) == 0
    out = capsys.readouterr().out
    assert "cases: 4 (4 resolved)" in out
    assert "kind: flat" in out
    assert "snapshots: 2" in out
    assert "note: snapshot not-a-snapshot has no readable manifest; a server skips it" in out
    assert "  count: 4" in out
