"""The cache of served cases: hits skip the store read and the scrub, and never outlive an edit or a delete."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from linli.pii import scrub, scrubber_fingerprint
from services.retrieval import served_cases
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
    """Counts the store queries a memory's searches make: case reads (served_by_keys) and key checks (live_among)."""

    def __init__(self, memory: CaseMemory) -> None:
        self.reads: list[list[int]] = []
        self.checks: list[list[int]] = []
        store = memory._store
        read, check = store.served_by_keys, store.live_among

        def served_by_keys(keys: Sequence[int], scrubber: str) -> tuple[dict[int, CaseRecord], set[int]]:
            self.reads.append(list(keys))
            return read(keys, scrubber)

        def live_among(keys: Sequence[int]) -> set[int]:
            self.checks.append(list(keys))
            return check(keys)

        store.served_by_keys = served_by_keys  # type: ignore[method-assign]
        store.live_among = live_among  # type: ignore[method-assign]


def test_a_repeated_search_is_served_from_the_cache(database_url: str) -> None:
    memory = replica(database_url)
    memory.upsert([lift_case("三号楼电梯停运三天了"), other_case(1), other_case(2)])
    first = served(memory)
    counting = CountingStore(memory)
    assert served(memory) == first
    assert counting.reads == []
    assert len(counting.checks) == 1  # one key query says the cached hits still live


def test_a_search_with_a_case_not_cached_makes_one_store_query(database_url: str) -> None:
    memory = replica(database_url)
    memory.upsert([lift_case("三号楼电梯停运三天了"), other_case(1)])
    served(memory)  # both cached
    memory.upsert([other_case(2)])
    counting = CountingStore(memory)
    assert set(served(memory)) == {"lift-1", "other-1", "other-2"}
    assert (len(counting.reads), counting.checks) == (1, [])  # the rows of every hit, no key query besides
    assert len(counting.reads[0]) == 3


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
    assert counting.checks == []
    assert len(memory._served) == 0


def records(keys: list[int]) -> dict[int, CaseRecord]:
    return {key: other_case(key) for key in keys}


def all_live(keys: list[int]) -> set[int]:
    return set(keys)


def load_all(keys: list[int], known: dict[int, CaseRecord]) -> dict[int, CaseRecord]:
    return {key: known.get(key) or other_case(key) for key in keys}


def test_the_least_recently_served_case_is_evicted() -> None:
    cache = ServedCaseCache(3)
    cache.get_many([1, 2, 3], all_live, load_all)
    cache.get_many([1], all_live, load_all)  # 1 is now the most recent
    cache.get_many([4], all_live, load_all)
    asked: list[int] = []
    reused: list[int] = []

    def load(keys: list[int], known: dict[int, CaseRecord]) -> dict[int, CaseRecord]:
        asked.extend(keys)
        reused.extend(known)
        return load_all(keys, known)

    cache.get_many([1, 2, 3, 4], all_live, load)
    assert asked == [1, 2, 3, 4]  # one read of every key, since one is missing
    assert sorted(reused) == [1, 3, 4]  # 2 was evicted, the others were kept and are handed over as they are
    assert len(cache) == 3


def test_a_fully_cached_search_asks_only_which_keys_live() -> None:
    cache = ServedCaseCache(10)
    cache.get_many([1, 2, 3], all_live, load_all)
    asked: list[list[int]] = []

    def live(keys: list[int]) -> set[int]:
        asked.append(keys)
        return {1, 3}  # 2 was deleted on another replica

    def no_load(keys: list[int], known: dict[int, CaseRecord]) -> dict[int, CaseRecord]:
        raise AssertionError("every case was cached")

    assert cache.get_many([3, 2, 1], live, no_load) == {3: other_case(3), 1: other_case(1)}
    assert asked == [[3, 2, 1]]


def test_a_search_with_a_missing_case_loads_once_and_asks_no_key_query() -> None:
    cache = ServedCaseCache(10)
    cache.get_many([1], all_live, load_all)

    def no_live(keys: list[int]) -> set[int]:
        raise AssertionError("the rows read say which cases live")

    loads: list[tuple[list[int], dict[int, CaseRecord]]] = []

    def load(keys: list[int], known: dict[int, CaseRecord]) -> dict[int, CaseRecord]:
        loads.append((keys, dict(known)))
        return {key: known.get(key) or other_case(key) for key in keys if key != 1}  # 1 was deleted meanwhile

    assert cache.get_many([1, 2], no_live, load) == {2: other_case(2)}
    assert loads == [([1, 2], {1: other_case(1)})]


def test_cases_loaded_while_a_key_is_forgotten_are_not_kept() -> None:
    cache = ServedCaseCache(10)

    def load_while_deleted(keys: list[int], known: dict[int, CaseRecord]) -> dict[int, CaseRecord]:
        found = records(keys)
        cache.forget(keys)  # the case is deleted after the read, before the cache keeps it
        return found

    assert set(cache.get_many([7], all_live, load_while_deleted)) == {7}  # this search read it while it lived
    assert len(cache) == 0


def test_absent_keys_are_left_out() -> None:
    cache = ServedCaseCache(10)
    assert cache.get_many([1, 2], all_live, lambda keys, known: records([1])) == {1: other_case(1)}
    assert len(cache) == 1


# --- scrubbed once: a case this scrubber stored is served as stored, any other is scrubbed on the way out ----------

NAMED = ("张伟说3号楼电梯坏了,电话13812345678", "已联系李建华,明天上门维修")
NAMED_SCRUBBED = ("[姓名]说3号楼电梯坏了,电话[手机号]", "已联系[姓名],明天上门维修")


class CountingScrub:
    """Counts the scrubs of served cases (served_cases' `scrub`, which without_personal_data calls)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.texts: list[str] = []

        def counting(text: str) -> str:
            self.texts.append(text)
            return scrub(text)

        monkeypatch.setattr(served_cases, "scrub", counting)


def stored_straight(url: str, scrubbed_by: str) -> None:
    """The named case written into the store without CaseMemory, as an older scrubber (or none) left it."""
    store = CaseStore.from_url(url)
    case = lift_case(*NAMED)
    embedder = HashEmbedder()
    store.upsert([case], embedder.embed([case.complaint]), embedder.model_name, scrubbed_by=scrubbed_by)
    store.dispose()


@pytest.mark.parametrize("cache_size", [0, 100], ids=["uncached", "cached"])
def test_a_case_this_scrubber_stored_is_served_without_another_scrub(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache_size: int
) -> None:
    memory = replica(f"sqlite:///{tmp_path / 'cases.sqlite'}", cache_size=cache_size)
    memory.upsert([lift_case(*NAMED)])  # scrubbed on the way in, stored with this scrubber's fingerprint
    counting = CountingScrub(monkeypatch)
    for _ in range(2):
        assert served(memory) == {"lift-1": NAMED_SCRUBBED}
    assert counting.texts == []


@pytest.mark.parametrize("scrubbed_by", ["", "0123456789abcdef"], ids=["unknown", "another-scrubber"])
def test_a_case_another_scrubber_stored_is_served_scrubbed(
    database_url: str, monkeypatch: pytest.MonkeyPatch, scrubbed_by: str
) -> None:
    stored_straight(database_url, scrubbed_by)
    counting = CountingScrub(monkeypatch)
    for cache_size in (0, 100):
        memory = replica(database_url, cache_size=cache_size)
        for _ in range(2):  # a miss, then (cached) a hit
            assert served(memory) == {"lift-1": NAMED_SCRUBBED}
    assert counting.texts.count(NAMED[0]) == 3  # twice uncached, once for the cache
    stored = CaseStore.from_url(database_url)
    assert (stored.existing(["lift-1"])["lift-1"].complaint, len(stored.existing(["lift-1"]))) == (NAMED[0], 1)
    stored.dispose()  # served scrubbed, but the row is left as it was: nothing is written on a read


def test_the_fingerprint_alone_decides_what_is_scrubbed_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'cases.sqlite'}"
    stored_straight(url, scrubber_fingerprint())  # claims this scrubber cleaned it: trusted as stored
    counting = CountingScrub(monkeypatch)
    assert served(replica(url, cache_size=0)) == {"lift-1": NAMED}
    assert counting.texts == []


def test_a_store_of_the_old_schema_gains_the_column_and_its_cases_are_served_scrubbed(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored_straight(database_url, scrubber_fingerprint())
    engine = create_engine(database_url)
    with engine.begin() as connection:  # the store as it was before scrubbed_by existed
        connection.execute(text("ALTER TABLE cases DROP COLUMN scrubbed_by"))
    assert "scrubbed_by" not in {column["name"] for column in inspect(engine).get_columns("cases")}

    counting = CountingScrub(monkeypatch)
    memory = replica(database_url)  # opens the old store
    assert "scrubbed_by" in {column["name"] for column in inspect(engine).get_columns("cases")}
    with engine.connect() as connection:
        assert connection.execute(text("SELECT scrubbed_by FROM cases")).scalars().all() == [""]
    engine.dispose()
    assert served(memory) == {"lift-1": NAMED_SCRUBBED}
    assert NAMED[0] in counting.texts
    replica(database_url)  # and a store that has the column opens as it is
