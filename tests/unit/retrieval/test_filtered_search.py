"""Filters inside the index: postings match brute force, follow writes, keep recall, never scan the store."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from sqlalchemy import create_engine

from services.retrieval.cases import CaseFilter, CaseRecord, CaseStatus
from services.retrieval.filter_index import FilterIndex, KeySelection
from services.retrieval.index import IndexKind, IndexParams, VectorIndex, VectorStorage
from services.retrieval.memory import CaseMemory
from services.retrieval.snapshots import SnapshotStore
from services.retrieval.store import CaseStore
from tests.unit.fakes import HashEmbedder

Vectors = npt.NDArray[np.float32]
DIM = 32
COMMUNITIES = ["恒康居民区", "西渚花苑", "金桥新村", "碧云苑"]
PARTIES = ["property_manager", "street_office", "owners_committee"]
START = datetime(2025, 1, 1, tzinfo=UTC)
# HNSW from 50 vectors; exact search for at most 40 matches that are at most 10 % of the cases.
PARAMS = IndexParams(hnsw_threshold=50, hnsw_m=16, ef_construction=80, ef_search=64, exact_subset_limit=40)


def clustered(n: int, seed: int) -> Vectors:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((20, DIM))
    vectors = centres[rng.integers(0, 20, n)] + 0.4 * rng.standard_normal((n, DIM))
    unit: Vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    return unit


def random_cases(n: int, seed: int) -> list[CaseRecord]:
    rng = np.random.default_rng(seed)
    records = []
    for i in range(n):
        resolved = bool(rng.random() < 0.7)
        records.append(
            CaseRecord(
                f"case-{i}", f"投诉{i}", "已处理" if resolved else "", str(rng.choice(PARTIES)),
                str(rng.choice(COMMUNITIES)), status=CaseStatus.RESOLVED if resolved else CaseStatus.OPEN,
                resolved_at=START + timedelta(days=int(rng.integers(0, 300))) if resolved else None,
            )
        )  # fmt: skip
    return records


def passes(case: CaseRecord, case_filter: CaseFilter) -> bool:
    if case_filter.community and case.community != case_filter.community:
        return False
    if case_filter.party and case.party != case_filter.party:
        return False
    if case_filter.resolved_only and case.status is not CaseStatus.RESOLVED:
        return False
    if case_filter.resolved_after and (case.resolved_at is None or case.resolved_at < case_filter.resolved_after):
        return False
    return not (
        case_filter.resolved_before and (case.resolved_at is None or case.resolved_at >= case_filter.resolved_before)
    )


FILTERS = [
    CaseFilter(resolved_only=True),
    CaseFilter(community="西渚花苑"),
    CaseFilter(party="street_office", resolved_only=True),
    CaseFilter(community="碧云苑", party="owners_committee"),
    CaseFilter(resolved_after=START + timedelta(days=100), resolved_before=START + timedelta(days=130)),
    CaseFilter(community="金桥新村", resolved_only=True, resolved_after=START + timedelta(days=200)),
    CaseFilter(community="没有的社区"),
]


@pytest.mark.parametrize("case_filter", FILTERS)
@pytest.mark.parametrize("exact_limit", [5, 10_000])
def test_selection_is_exactly_the_filters_matches(case_filter: CaseFilter, exact_limit: int) -> None:
    records = random_cases(600, seed=1)
    filters = FilterIndex(exact_limit)
    keys = list(range(1, 601))
    filters.add(keys, records)
    filters.remove([3, 4, 5])
    expected = {key for key, case in zip(keys, records, strict=True) if passes(case, case_filter)} - {3, 4, 5}
    selection = filters.select(case_filter)
    assert set(selection.listed().tolist()) == expected
    assert selection.count == len(expected)


@pytest.mark.parametrize("case_filter", FILTERS[:6])
@pytest.mark.parametrize("storage", list(VectorStorage))
def test_filtered_search_finds_the_exact_filtered_neighbours(case_filter: CaseFilter, storage: VectorStorage) -> None:
    records, vectors = random_cases(2000, seed=2), clustered(2000, seed=3)
    keys = np.arange(1, 2001, dtype=np.int64)
    params = PARAMS.stored_as(storage)
    index, filters = VectorIndex.build(DIM, params, keys, vectors), FilterIndex(40, params.exact_subset_max_share)
    filters.add(keys.tolist(), records)
    assert index.kind is IndexKind.HNSW
    matching = np.asarray([passes(case, case_filter) for case in records])
    queries, hits = clustered(30, seed=4), 0
    for query in queries:
        found = [key for key, _ in index.search(query[None, :], 10, filters.select(case_filter))]
        assert all(matching[key - 1] for key in found), "a result outside the filter"
        truth = keys[matching][np.argsort(-(vectors[matching] @ query))[:10]]
        assert len(found) == len(truth)
        hits += len(set(found) & set(truth.tolist()))
    assert hits / (10 * len(queries)) >= (0.98 if storage is VectorStorage.FP32 else 0.9)


def test_narrow_filter_keeps_its_recall_where_a_graph_walk_would_not() -> None:
    vectors = clustered(5000, seed=5)
    keys = np.arange(1, 5001, dtype=np.int64)
    index = VectorIndex.build(DIM, PARAMS, keys, vectors)
    few = keys[::200]  # 25 keys: 0.5 % of the cases
    for query in clustered(20, seed=6):
        truth = few[np.argsort(-(vectors[few - 1] @ query))[:10]]
        found = [key for key, _ in index.search(query[None, :], 10, KeySelection.of_keys(few))]
        assert found == truth.tolist()


def test_tombstones_are_skipped_by_filtered_and_unfiltered_searches() -> None:
    vectors = clustered(300, seed=7)
    keys = np.arange(1, 301, dtype=np.int64)
    index = VectorIndex.build(DIM, PARAMS, keys, vectors)
    gone = keys[:150]
    index.remove(gone)
    assert index.size == 150
    query = vectors[:1]  # its own nearest neighbour is removed
    assert all(key > 150 for key, _ in index.search(query, 20))
    assert all(key > 150 for key, _ in index.search(query, 20, KeySelection.of_keys(keys[::2])))
    assert all(key > 150 for key, _ in index.search(query, 5, KeySelection.of_keys(keys[::30])))


def memory_at(path: Path) -> CaseMemory:
    return CaseMemory(
        HashEmbedder(DIM), CaseStore.from_url(f"sqlite:///{path / 'cases.sqlite'}"), max_k=50, max_batch=64,
        params=PARAMS,
    )  # fmt: skip


def open_case(case_id: str, community: str = "恒康居民区") -> CaseRecord:
    return CaseRecord(case_id, f"{case_id}:楼道灯坏了", "", "property_manager", community, status=CaseStatus.OPEN)


def test_postings_follow_upserts_deletes_and_status_changes(tmp_path: Path) -> None:
    memory = memory_at(tmp_path)
    memory.upsert([open_case(f"c{i}") for i in range(60)])
    memory.rebuild()
    resolved_only = CaseFilter(resolved_only=True)
    assert memory.search(text="楼道灯坏了", k=10, case_filter=resolved_only) == []
    memory.upsert([CaseRecord("c7", "c7:楼道灯坏了", "电工换了灯泡", "property_manager", "恒康居民区",
                              resolved_at=START)])  # fmt: skip
    assert [case.id for case, _ in memory.search(text="楼道灯坏了", k=10, case_filter=resolved_only)] == ["c7"]
    memory.upsert([open_case("c7")])  # reopened
    assert memory.search(text="楼道灯坏了", k=10, case_filter=resolved_only) == []
    memory.upsert([open_case("n1", community="西渚花苑")])
    west = CaseFilter(community="西渚花苑")
    assert [case.id for case, _ in memory.search(text="楼道灯", k=10, case_filter=west)] == ["n1"]
    memory.delete(["n1"])
    with pytest.raises(Exception, match="unknown community"):  # no case of it is left
        memory.search(text="楼道灯", k=10, case_filter=west)


def test_postings_are_rebuilt_from_the_store_at_load(tmp_path: Path) -> None:
    memory = memory_at(tmp_path)
    memory.upsert([open_case(f"c{i}") for i in range(10)])
    memory.upsert([CaseRecord("r1", "r1:电梯坏了", "已修好", "property_manager", "西渚花苑")])
    restarted = memory_at(tmp_path)
    restarted.load()
    hits = restarted.search(text="电梯", k=5, case_filter=CaseFilter(resolved_only=True, community="西渚花苑"))
    assert [case.id for case, _ in hits] == ["r1"]


class RecordingStore(CaseStore):
    """A case store that records which of its methods are called."""

    calls: list[str]

    def __getattribute__(self, name: str) -> Any:
        attribute = super().__getattribute__(name)
        if callable(attribute) and not name.startswith("_"):
            object.__getattribute__(self, "calls").append(name)
        return attribute


def test_a_filtered_search_reads_only_the_found_cases_from_the_store(tmp_path: Path) -> None:
    store = RecordingStore(create_engine(f"sqlite:///{tmp_path / 'cases.sqlite'}"))
    store.calls = []
    memory = CaseMemory(HashEmbedder(DIM), store, max_k=50, max_batch=100, params=PARAMS)
    memory.upsert(random_cases(100, seed=9))
    memory.rebuild()
    for case_filter in FILTERS[:6]:
        store.calls.clear()
        memory.search(text="楼道灯坏了", k=5, case_filter=case_filter)
        assert set(store.calls) <= {"live_among", "served_by_keys"}, store.calls


def test_the_resolved_only_selection_costs_the_same_order_at_any_size() -> None:
    fastest = []
    for size in (10_000, 200_000):
        filters = FilterIndex(1000, 0.1)
        filters.add(list(range(1, size + 1)), random_cases(size, seed=8))
        timings = []
        for _ in range(20):
            started = time.perf_counter()
            filters.select(CaseFilter(resolved_only=True))
            timings.append(time.perf_counter() - started)
        fastest.append(min(timings))  # the least disturbed call: the machine's cores are shared
    # A bitmap copy of N/8 bytes, no store read: 20x the cases stays far below a millisecond.
    assert fastest[1] < 1e-3, fastest


def test_a_snapshot_stored_otherwise_is_rebuilt_as_configured(tmp_path: Path) -> None:
    def memory_with(storage: VectorStorage) -> CaseMemory:
        return CaseMemory(
            HashEmbedder(DIM), CaseStore.from_url(f"sqlite:///{tmp_path / 'cases.sqlite'}"), max_k=50, max_batch=64,
            params=PARAMS.stored_as(storage), snapshots=SnapshotStore(tmp_path / "snapshots"), model_checksum="hash",
        )  # fmt: skip

    full = memory_with(VectorStorage.FP32)
    full.upsert([open_case(f"c{i}") for i in range(60)])
    full.rebuild()
    full.snapshot()
    compressed = memory_with(VectorStorage.SQ8)
    assert compressed.load() == 60
    stats = compressed.stats()
    assert stats.index_type.startswith("IDMap2,HNSW24,SQ8")
    assert stats.snapshot == ""
    assert compressed.search(text="c3:楼道灯坏了", k=1, case_filter=CaseFilter())[0][0].id == "c3"
