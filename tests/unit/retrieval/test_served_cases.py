"""The cache of served cases: hits skip the store read and the scrub, and never outlive an edit or a delete."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from services.retrieval.cases import CaseFilter, CaseRecord
from services.retrieval.memory import CaseMemory
from services.retrieval.served_cases import ServedCaseCache
from services.retrieval.store import CaseStore
from tests.unit.fakes import HashEmbedder

COMMUNITY = "绿岛花园"


def lift_case(complaint: str, resolution: str = "已报修") -> CaseRecord:
    return CaseRecord("lift-1", complaint, resolution, "property_manager", COMMUNITY)


def other_case(i: int) -> CaseRecord:
    return CaseRecord(f"other-{i}", f"第{i}号投诉:楼道灯坏了", f"处理{i}", "street_office", COMMUNITY)


def replica(url: str, cache_size: int = 100) -> CaseMemory:
    memory = CaseMemory(HashEmbedder(), CaseStore.from_url(url), max_k=50, max_batch=64, case_cache_size=cache_size)
    memory.load()
    return memory


def served(memory: CaseMemory) -> dict[str, tuple[str, str]]:
    """Every case a search returns, by id: (complaint, resolution)."""
    hits = memory.search(text="电梯坏了", k=50, case_filter=CaseFilter(resolved_only=True, community=COMMUNITY))
    return {case.id: (case.complaint, case.resolution) for case, _ in hits}


class CountingStore:
    """Counts the case reads a memory's store serves (wrapping its by_keys)."""

    def __init__(self, memory: CaseMemory) -> None:
        self.reads: list[list[int]] = []
        store = memory._store
        original = store.by_keys

        def by_keys(keys: Sequence[int]) -> dict[int, CaseRecord]:
            self.reads.append(list(keys))
            return original(keys)

        store.by_keys = by_keys  # type: ignore[method-assign]


def test_a_repeated_search_is_served_from_the_cache(database_url: str) -> None:
    memory = replica(database_url)
    memory.upsert([lift_case("三号楼电梯停运三天了"), other_case(1), other_case(2)])
    first = served(memory)
    counting = CountingStore(memory)
    assert served(memory) == first
    assert counting.reads == []


def test_an_edit_or_delete_on_another_replica_is_never_served_stale(database_url: str) -> None:
    writer, reader = replica(database_url), replica(database_url)
    writer.upsert([lift_case("三号楼电梯停运三天了"), other_case(1)])
    reader.catch_up()
    assert served(reader)["lift-1"] == ("三号楼电梯停运三天了", "已报修")  # now cached on the reader

    writer.upsert([lift_case("三号楼电梯又坏了", "已换主板")])
    # Before the reader follows the feed its index still holds the old key: the store says it is gone.
    assert "lift-1" not in served(reader)
    reader.catch_up()
    assert served(reader)["lift-1"] == ("三号楼电梯又坏了", "已换主板")

    writer.delete(["lift-1"])
    assert "lift-1" not in served(reader)
    reader.catch_up()
    assert "lift-1" not in served(reader)
    assert set(served(reader)) == {"other-1"}


def test_the_change_feed_drops_the_cached_cases_it_deletes(database_url: str) -> None:
    writer, reader = replica(database_url), replica(database_url)
    writer.upsert([lift_case("三号楼电梯停运三天了"), other_case(1)])
    reader.catch_up()
    served(reader)
    assert len(reader._served) == 2
    writer.upsert([lift_case("三号楼电梯又坏了")])
    writer.delete(["other-1"])
    reader.catch_up()
    assert len(reader._served) == 0


def test_a_local_edit_or_delete_is_served_at_once(database_url: str) -> None:
    memory = replica(database_url)
    memory.upsert([lift_case("三号楼电梯停运三天了"), other_case(1)])
    assert served(memory)["lift-1"][0] == "三号楼电梯停运三天了"
    memory.upsert([lift_case("三号楼电梯又坏了")])
    assert served(memory)["lift-1"][0] == "三号楼电梯又坏了"
    memory.delete(["lift-1"])
    assert set(served(memory)) == {"other-1"}
    assert len(memory._served) == 1


def test_served_cases_are_scrubbed_like_the_store_read(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cases.sqlite'}"
    cached, uncached = replica(url), replica(url, cache_size=0)
    cached.upsert([lift_case("电梯坏了,电话13812345678", "物业王师傅修好了")])
    uncached.catch_up()
    for _ in range(2):  # a miss, then a hit
        assert served(cached) == served(uncached) == {"lift-1": ("电梯坏了,电话[手机号]", "物业[姓名]修好了")}


def test_a_cache_of_size_0_reads_the_store_every_time(tmp_path: Path) -> None:
    memory = replica(f"sqlite:///{tmp_path / 'cases.sqlite'}", cache_size=0)
    memory.upsert([lift_case("三号楼电梯停运三天了")])
    counting = CountingStore(memory)
    served(memory)
    served(memory)
    assert len(counting.reads) == 2
    assert len(memory._served) == 0


def records(keys: list[int]) -> dict[int, CaseRecord]:
    return {key: other_case(key) for key in keys}


def test_the_least_recently_served_case_is_evicted() -> None:
    cache = ServedCaseCache(3)
    cache.get_many([1, 2, 3], records)
    cache.get_many([1], records)  # 1 is now the most recent
    cache.get_many([4], records)
    loaded: list[int] = []

    def load(keys: list[int]) -> dict[int, CaseRecord]:
        loaded.extend(keys)
        return records(keys)

    cache.get_many([1, 2, 3, 4], load)
    assert loaded == [2]  # 2 was evicted, the others were kept
    assert len(cache) == 3


def test_cases_loaded_while_a_key_is_forgotten_are_not_kept() -> None:
    cache = ServedCaseCache(10)

    def load_while_deleted(keys: list[int]) -> dict[int, CaseRecord]:
        found = records(keys)
        cache.forget(keys)  # the case is deleted after the read, before the cache keeps it
        return found

    assert set(cache.get_many([7], load_while_deleted)) == {7}  # this search read it while it lived
    assert len(cache) == 0


def test_absent_keys_are_left_out() -> None:
    cache = ServedCaseCache(10)
    assert cache.get_many([1, 2], lambda keys: records([1])) == {1: other_case(1)}
    assert len(cache) == 1
