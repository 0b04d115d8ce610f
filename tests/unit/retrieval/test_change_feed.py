"""The case store's change feed, and replicas that follow it: on SQLite (embedded) and PostgreSQL (production)."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from services.retrieval.cases import CaseFilter, CaseRecord
from services.retrieval.index import IndexParams
from services.retrieval.memory import CaseMemory
from services.retrieval.snapshots import SnapshotStore
from services.retrieval.store import DELETE, UPSERT, CaseStore
from tests.unit.fakes import HashEmbedder

SMALL_HNSW = IndexParams(hnsw_threshold=30, hnsw_m=16, ef_construction=64, ef_search=64, exact_subset_limit=10)
COMMUNITIES = ("恒康居民区", "绿岛花园", "梅园新村")


def case(i: int, text: str = "", community: str = "") -> CaseRecord:
    return CaseRecord(
        f"case-{i}",
        text or f"第{i}号投诉:楼道灯坏了",
        f"处理{i}",
        "property_manager" if i % 2 else "street_office",
        community or COMMUNITIES[i % 3],
    )


@pytest.fixture
def store(database_url: str) -> Iterator[CaseStore]:
    opened = CaseStore.from_url(database_url)
    yield opened
    opened.dispose()


def replica(url: str, snapshots: Path | None = None, params: IndexParams | None = None) -> CaseMemory:
    """A replica as a server builds one: its own store connection, index and (optionally) snapshot folder."""
    memory = CaseMemory(
        HashEmbedder(),
        CaseStore.from_url(url),
        max_k=50,
        max_batch=64,
        params=params,
        snapshots=SnapshotStore(snapshots) if snapshots else None,
    )
    memory.load()
    return memory


def held(memory: CaseMemory) -> set[str]:
    """The ids of every case a replica finds, through its index and through its filter postings."""
    found = {record.id for record, _ in memory.search(text="楼道灯", k=50, case_filter=CaseFilter())}
    for community in COMMUNITIES:
        if memory._filters.known("community", community):
            filtered = memory.search(text="楼道灯", k=50, case_filter=CaseFilter(community=community))
            assert all(record.community == community for record, _ in filtered)
    return found


def test_upserts_and_deletes_are_recorded_in_order(store: CaseStore) -> None:
    vectors = HashEmbedder().embed(["a", "b", "c"])
    first, _ = store.upsert([case(1), case(2)], vectors[:2], "hash-embedder")
    second, replaced = store.upsert([case(1, "改过的投诉")], vectors[2:], "hash-embedder")
    deleted = store.delete(["case-2", "no-such-case"])
    changes = store.changes_since(0)
    assert [(change.key, change.op) for change in changes] == [
        (first[0], UPSERT),
        (first[1], UPSERT),
        (second[0], UPSERT),
        (replaced[0], DELETE),
        (deleted[0], DELETE),
    ]
    assert [change.seq for change in changes] == sorted({change.seq for change in changes})
    assert store.last_seq() == changes[-1].seq
    assert store.changes_since(changes[2].seq) == changes[3:]
    assert replaced == [first[0]]
    assert deleted == [first[1]]


@pytest.mark.parametrize("params", [IndexParams(), SMALL_HNSW], ids=["flat", "hnsw"])
def test_a_replica_from_snapshot_and_changes_equals_one_from_scratch(
    database_url: str, tmp_path: Path, params: IndexParams
) -> None:
    writer = replica(database_url, tmp_path / "writer", params)
    writer.upsert([case(i) for i in range(40)])
    writer.snapshot()
    other = replica(database_url, None, params)
    other.upsert([case(i, f"第{i}号投诉改过了") for i in range(0, 40, 5)])  # replaced: new keys
    other.delete([f"case-{i}" for i in range(1, 40, 7)])
    other.upsert([case(i) for i in range(40, 50)])
    shutil.copytree(tmp_path / "writer", tmp_path / "late")

    late = replica(database_url, tmp_path / "late", params)
    scratch = replica(database_url, None, params)
    assert late.stats().snapshot  # it did load the snapshot, then the changes since
    assert late._index.keys() == scratch._index.keys() == writer._store.live_keys()
    assert late.applied_seq == scratch.applied_seq == writer._store.last_seq()
    assert held(late) == held(scratch) == {f"case-{i}" for i in range(50)} - {f"case-{i}" for i in range(1, 40, 7)}
    writer.catch_up()
    assert writer._index.keys() == scratch._index.keys()
    assert held(writer) == held(scratch)


def test_a_replica_finds_what_another_wrote_once_it_catches_up(database_url: str) -> None:
    first, second = replica(database_url), replica(database_url)
    first.upsert([case(1, "电梯停运三天了", "绿岛花园")])
    assert "case-1" not in held(second)
    applied = second.catch_up()
    assert applied.added == 1
    hit, _ = second.search(text="电梯停运三天了", k=1, case_filter=CaseFilter(community="绿岛花园"))[0]
    assert hit.id == "case-1"
    second.delete(["case-1"])
    assert first.catch_up().removed == 1
    assert "case-1" not in held(first)
    assert second.catch_up().added == second.catch_up().removed == 0  # its own writes, already applied


def test_concurrent_writers_never_leave_a_follower_behind(database_url: str) -> None:
    """Writers on several connections while a follower polls: it ends holding exactly what the store holds.

    On PostgreSQL a sequence value taken by a transaction that commits late would be skipped by a follower that
    already read past it; the writers' lock (docs/adr/0011) is what makes this hold.
    """
    follower = replica(database_url)
    writers = [replica(database_url) for _ in range(3)]

    def write(number: int, memory: CaseMemory) -> None:
        for round_ in range(8):
            memory.upsert([case(number * 100 + i, f"写者{number}第{round_}轮{i}") for i in range(3)])
            memory.delete([f"case-{number * 100 + round_ % 3}"])

    threads = [threading.Thread(target=write, args=(n, m)) for n, m in enumerate(writers)]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        follower.catch_up()
    for thread in threads:
        thread.join()
    follower.catch_up()
    store_keys = follower._store.live_keys()
    assert follower._index.keys() == store_keys
    assert set(follower._filters.holding(sorted(store_keys))) == store_keys
    assert len(store_keys) == 3 * 2  # each writer's last round left two of its three cases


def test_a_row_of_another_model_is_not_applied(database_url: str) -> None:
    follower = replica(database_url)
    other_model = CaseMemory(HashEmbedder(64, "another-model"), CaseStore.from_url(database_url), max_k=5, max_batch=8)
    other_model.upsert([case(7)])
    follower.catch_up()
    assert follower._index.size == 0
    assert np.asarray(follower._filters.holding([1])).size == 0
