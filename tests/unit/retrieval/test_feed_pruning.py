"""Pruning the case store's change feed (docs/adr/0011): only old changes go, and a replica whose next change was
pruned rebuilds from the store instead of applying a partial feed. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import logging
import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.cli.main import build_parser
from services.retrieval.index_admin import run_index_command
from services.retrieval.memory import CaseMemory
from services.retrieval.server import prune_feed_periodically
from services.retrieval.settings import RetrievalSettings
from services.retrieval.snapshots import MANIFEST_FILE
from services.retrieval.store import CaseStore
from tests.unit.fakes import HashEmbedder
from tests.unit.retrieval.test_change_feed import SMALL_HNSW, case, held, replica

RETENTION = timedelta(hours=24)
START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def store(database_url: str) -> Iterator[CaseStore]:
    opened = CaseStore.from_url(database_url)
    yield opened
    opened.dispose()


def write(store: CaseStore, *numbers: int) -> None:
    store.upsert([case(i) for i in numbers], HashEmbedder().embed([f"{i}" for i in numbers]), "hash-embedder")


def prune_everything(store: CaseStore) -> None:
    """Marks the feed's end, then prunes through it as if the retention had passed since."""
    store.prune_changes(RETENTION, now=START)
    assert store.prune_changes(RETENTION, now=START + RETENTION).through == store.last_seq()


def test_pruning_deletes_only_changes_older_than_the_retention_and_records_the_watermark(store: CaseStore) -> None:
    write(store, 1, 2)
    first_mark = store.last_seq()
    assert store.prune_changes(RETENTION, now=START).deleted == 0  # no mark is old enough yet: it only marks
    write(store, 3)
    store.delete(["case-1"])
    second_mark = store.last_seq()
    assert store.prune_changes(RETENTION, now=START + timedelta(hours=1)).deleted == 0
    write(store, 4)

    pruned = store.prune_changes(RETENTION, now=START + RETENTION)
    assert (pruned.deleted, pruned.through) == (2, first_mark)
    assert store.pruned_through() == first_mark
    assert [change.seq > first_mark for change in store.changes_since(0)] == [True] * 3
    assert store.prune_changes(RETENTION, now=START + RETENTION).deleted == 0  # nothing else is that old

    pruned = store.prune_changes(RETENTION, now=START + RETENTION + timedelta(hours=1))
    assert (pruned.deleted, pruned.through) == (2, second_mark)
    assert [change.key for change in store.changes_since(0)] == [max(store.live_keys())]  # case 4's upsert
    assert store.count() == 3  # pruning the feed never touches the cases


def test_seq_keeps_growing_once_every_change_was_pruned(store: CaseStore) -> None:
    write(store, 1)
    prune_everything(store)
    through = store.pruned_through()
    assert store.changes_since(0) == []
    assert store.last_seq() == through  # the feed's position survives its rows
    write(store, 2)
    assert [change.seq > through for change in store.changes_since(0)] == [True]


def test_a_follower_behind_the_pruned_feed_rebuilds_and_serves_exactly_the_store(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    writer, follower = replica(database_url, params=SMALL_HNSW), replica(database_url, params=SMALL_HNSW)
    writer.upsert([case(i) for i in range(40)])
    follower.catch_up()
    assert "case-3" in held(follower)  # and in its cache of served cases

    # While the follower is away: a case deleted, one replaced, new ones, and the feed pruned past all of it.
    writer.delete(["case-3"])
    writer.upsert([case(5, "第5号投诉改过了"), *(case(i) for i in range(40, 45))])
    prune_everything(writer._store)
    assert follower.applied_seq < writer._store.pruned_through()

    with caplog.at_level(logging.WARNING, logger="services.retrieval.memory"):
        applied = follower.catch_up()
    assert "pruned from the feed; rebuilding" in caplog.text
    store_keys = writer._store.live_keys()
    assert follower.held_keys() == store_keys
    assert set(follower._filters.holding(sorted(store_keys))) == store_keys
    assert held(follower) == {f"case-{i}" for i in range(45)} - {"case-3"}
    assert (applied.added, applied.removed) == (6, 2)  # the five new and case 5's new key; case 3 and 5's old key
    assert follower.applied_seq == writer._store.last_seq()

    writer.upsert([case(50)])  # once rebuilt, it follows the feed again
    assert follower.catch_up().added == 1


def test_a_follower_not_behind_the_pruned_feed_keeps_applying_it(database_url: str) -> None:
    writer, follower = replica(database_url), replica(database_url)
    writer.upsert([case(i) for i in range(10)])
    follower.catch_up()
    prune_everything(writer._store)
    assert follower.applied_seq == writer._store.pruned_through()
    index = follower._index

    writer.upsert([case(i) for i in range(10, 13)])
    writer.delete(["case-0"])
    applied = follower.catch_up()
    assert (applied.added, applied.removed) == (3, 1)
    assert follower._index is index  # applied in place, not rebuilt
    assert follower.held_keys() == writer._store.live_keys()


def test_a_replica_whose_snapshot_is_older_than_the_pruned_feed_rebuilds_at_start(
    database_url: str, tmp_path: Path
) -> None:
    writer = replica(database_url, tmp_path / "writer")
    writer.upsert([case(i) for i in range(20)])
    writer.catch_up()  # its snapshot then records the feed position it covers
    manifest = json.loads((writer.snapshot() / MANIFEST_FILE).read_text(encoding="utf-8"))
    assert manifest["seq"] == writer._store.last_seq()
    shutil.copytree(tmp_path / "writer", tmp_path / "old")
    writer.delete(["case-2"])
    writer.upsert([case(i) for i in range(20, 25)])  # only the feed tells a snapshot's loader of these
    fresh = replica(database_url, tmp_path / "old")
    assert fresh.stats().snapshot  # before pruning, the snapshot and the feed do
    prune_everything(writer._store)

    late = replica(database_url, tmp_path / "old")
    assert late.stats().snapshot == ""  # rebuilt from the store
    assert late.held_keys() == writer._store.live_keys()
    assert held(late) == {f"case-{i}" for i in range(25)} - {"case-2"}
    assert late.applied_seq == writer._store.last_seq()


def test_the_server_prunes_periodically_and_logs_what_it_deleted(
    store: CaseStore, caplog: pytest.LogCaptureFixture
) -> None:
    write(store, 1, 2, 3)
    stop = threading.Event()
    pruner = threading.Thread(target=prune_feed_periodically, args=(store, timedelta(0), 0.01, stop), daemon=True)
    with caplog.at_level(logging.INFO, logger="services.retrieval.server"):
        pruner.start()
        try:
            for _ in range(500):
                if store.pruned_through() == store.last_seq():
                    break
                stop.wait(0.01)
        finally:
            stop.set()
            pruner.join(5)
    assert store.changes_since(0) == []
    deleted = [record.__dict__["deleted"] for record in caplog.records if record.msg == "change feed pruned"]
    assert deleted[:2] == [0, 3]  # the first run only marks the feed's end


def test_the_prune_changes_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = RetrievalSettings(index_dir=tmp_path / "index")
    args = build_parser().parse_args(["index", "prune-changes", "--retention-hours", "2"])
    assert run_index_command(args, settings=settings) == 1
    assert "no case store in" in capsys.readouterr().err

    settings.index_dir.mkdir()
    store = CaseStore.from_url(settings.resolved_case_store_url())
    memory = CaseMemory(HashEmbedder(), store, max_k=5, max_batch=8)
    memory.upsert([case(1), case(2)])
    store.prune_changes(timedelta(hours=2), now=datetime.now(UTC) - timedelta(hours=3))  # a pruner marked it then
    memory.upsert([case(3)])

    assert run_index_command(args, settings=settings) == 0
    assert "2 changes older than 2 h deleted" in capsys.readouterr().out
    assert [change.key for change in store.changes_since(0)] == [max(store.live_keys())]  # case 3's upsert
    assert run_index_command(build_parser().parse_args(["index", "prune-changes"]), settings=settings) == 0
    assert capsys.readouterr().out.startswith("0 changes older than 168 h deleted")
    store.dispose()
