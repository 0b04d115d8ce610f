"""The index lifecycle: exact vs HNSW, tombstones, snapshots with manifests, loading and catching up."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from services.retrieval.cases import CaseFilter, CaseRecord
from services.retrieval.embedder import Vectors
from services.retrieval.index import IndexParams, VectorIndex
from services.retrieval.memory import CaseMemory
from services.retrieval.snapshots import INDEX_FILE, MANIFEST_FILE, SnapshotStore
from services.retrieval.store import CaseStore
from tests.unit.fakes import HashEmbedder

DIM = 32
SMALL_HNSW = IndexParams(hnsw_threshold=50, hnsw_m=16, ef_construction=64, ef_search=64, exact_subset_limit=10)


def unit_vectors(n: int, seed: int = 0) -> Vectors:
    vectors = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    normalised: Vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return normalised


@pytest.mark.parametrize("params", [IndexParams(), SMALL_HNSW], ids=["flat", "hnsw"])
def test_search_upsert_remove(params: IndexParams) -> None:
    vectors = unit_vectors(200)
    index = VectorIndex.build(DIM, params, np.arange(1, 201, dtype=np.int64), vectors)
    assert index.kind is params.kind_for(200)
    assert index.search(vectors[7:8], 1)[0][0] == 8
    index.remove(np.asarray([8], dtype=np.int64))
    assert 8 not in [key for key, _ in index.search(vectors[7:8], 5)]
    assert index.size == 199
    index.upsert(np.asarray([500], dtype=np.int64), vectors[7:8])
    assert index.search(vectors[7:8], 1)[0][0] == 500
    allowed = np.asarray([3, 4, 5], dtype=np.int64)
    assert {key for key, _ in index.search(vectors[0:1], 10, allowed)} == {3, 4, 5}


def test_hnsw_removals_are_tombstones_until_rebuilt() -> None:
    index = VectorIndex.build(DIM, SMALL_HNSW, np.arange(1, 101, dtype=np.int64), unit_vectors(100))
    index.remove(np.arange(1, 31, dtype=np.int64))
    assert index.stale_fraction == pytest.approx(0.3)
    assert index.size == 70
    assert all(key > 30 for key, _ in index.search(unit_vectors(1, seed=9), 50))


def cases(n: int, start: int = 0, community: str = "恒康居民区") -> list[CaseRecord]:
    return [
        CaseRecord(f"case-{i}", f"第{i}号投诉:楼道问题", f"处理{i}", "property_manager", community)
        for i in range(start, start + n)
    ]


def memory_at(path: Path, params: IndexParams | None = None) -> CaseMemory:
    return CaseMemory(
        HashEmbedder(DIM),
        CaseStore.from_url(f"sqlite:///{path / 'cases.sqlite'}"),
        max_k=50,
        max_batch=64,
        params=params,
        snapshots=SnapshotStore(path / "snapshots"),
        model_checksum="sha-of-hash-embedder",
    )


def test_snapshot_then_load_catches_up_with_the_store(tmp_path: Path) -> None:
    memory = memory_at(tmp_path)
    memory.upsert(cases(40))
    snapshot = memory.snapshot()
    manifest = json.loads((snapshot / MANIFEST_FILE).read_text())
    assert (manifest["count"], manifest["dimension"], manifest["kind"]) == (40, DIM, "flat")
    assert manifest["model"] == "hash-embedder"
    memory.upsert(cases(5, start=40))  # after the snapshot
    memory.delete(["case-0", "case-1"])  # after the snapshot
    memory.upsert([CaseRecord("case-2", "改过的投诉", "改过的答复", "street_office", "恒康居民区")])

    restarted = memory_at(tmp_path)
    assert restarted.load() == 43
    assert restarted.stats().snapshot
    top = restarted.search(text="改过的投诉", k=1, case_filter=CaseFilter())[0][0]
    assert (top.id, top.party) == ("case-2", "street_office")
    ids = {case.id for case, _ in restarted.search(text="楼道", k=50, case_filter=CaseFilter())}
    assert "case-0" not in ids
    assert "case-44" in ids


def test_a_corrupt_or_foreign_snapshot_is_skipped(tmp_path: Path) -> None:
    memory = memory_at(tmp_path)
    memory.upsert(cases(10))
    older = memory.snapshot()
    memory.upsert(cases(10, start=10))
    newer = memory.snapshot()
    with (newer / INDEX_FILE).open("r+b") as stream:  # flip bytes in the newest index
        stream.seek(100)
        stream.write(b"\xff\xff\xff\xff")
    store = SnapshotStore(tmp_path / "snapshots")
    found = store.newest_valid(model_checksum="sha-of-hash-embedder", dimension=DIM)
    assert found is not None
    assert found[1].count == 10  # the older, intact one
    assert store.newest_valid(model_checksum="another-model", dimension=DIM) is None
    assert older.exists()
    # The store still has all 20: loading falls back to the older snapshot and catches up.
    assert memory_at(tmp_path).load() == 20


def test_only_the_newest_snapshots_are_kept(tmp_path: Path) -> None:
    memory = memory_at(tmp_path)
    memory.upsert(cases(3))
    for _ in range(5):
        memory.snapshot()
    assert len(SnapshotStore(tmp_path / "snapshots").snapshots()) == 3


def test_crossing_the_threshold_switches_to_hnsw_in_the_background(tmp_path: Path) -> None:
    memory = memory_at(tmp_path, SMALL_HNSW)
    memory.upsert(cases(40))
    assert memory.stats().index_type.startswith("IDMap2,Flat")
    memory.upsert(cases(20, start=40))
    deadline = time.monotonic() + 10
    while "HNSW" not in memory.stats().index_type and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "HNSW" in memory.stats().index_type
    assert memory.stats().case_count == 60
    memory.delete([f"case-{i}" for i in range(20)])  # a third of the graph becomes tombstones: rebuild
    deadline = time.monotonic() + 10
    while memory.stats().stale_fraction > 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert memory.stats().stale_fraction == 0
    assert memory.stats().case_count == 40


WRITER = """
import sys, time
from pathlib import Path
from tests.unit.test_index_lifecycle import cases, memory_at
memory = memory_at(Path(sys.argv[1]))
memory.load()
n = 0
while True:  # mostly snapshots, so that a kill usually lands in the middle of writing one
    memory.upsert(cases(50, start=n))
    n += 50
    for _ in range(5):
        memory.snapshot()
"""


def test_killing_the_writer_mid_snapshot_leaves_a_loadable_snapshot(tmp_path: Path) -> None:
    memory = memory_at(tmp_path)
    memory.upsert(cases(50))
    memory.snapshot()
    root = Path(__file__).resolve().parents[2]
    interrupted = 0
    for delay in (0.5, 0.8, 1.1, 1.4, 1.7, 2.0):
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path)], cwd=root, stdout=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": str(root)},
        )  # fmt: skip
        time.sleep(delay)
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        interrupted += any((tmp_path / "snapshots").glob(".tmp-*"))
        store = SnapshotStore(tmp_path / "snapshots")
        found = store.newest_valid(model_checksum="sha-of-hash-embedder", dimension=DIM)
        assert found is not None, "no loadable snapshot after a kill"
        faiss_index, manifest = found
        assert faiss_index.ntotal == manifest.count
        restarted = memory_at(tmp_path)  # loading also clears the half-written leftovers
        assert restarted.load() == CaseStore.from_url(f"sqlite:///{tmp_path / 'cases.sqlite'}").count()
        assert not any((tmp_path / "snapshots").glob(".tmp-*"))
    assert interrupted, "no kill landed inside a snapshot write; the test proved nothing"
