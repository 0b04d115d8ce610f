"""The cases searches return, kept scrubbed in memory so a hit costs neither a store read nor a scrub."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from dataclasses import replace

from linli.pii import scrub
from services.retrieval.cases import CaseRecord
from services.retrieval.store import CaseStore


def without_personal_data(case: CaseRecord) -> CaseRecord:
    """The case with its texts scrubbed (linli.pii), as it is stored and shown to residents."""
    return replace(case, complaint=scrub(case.complaint), resolution=scrub(case.resolution))


class ServedCaseCache:
    """Scrubbed cases by store key, at most `capacity` of them (0 disables), the least recently served evicted.

    A key's stored texts never change (a replaced case gets a new key, see CaseStore.upsert), so an entry stays true
    while its key lives; keys are forgotten when the case is deleted or replaced, here or on another replica (the
    change feed), so no dead case lingers. Readers take no lock (OrderedDict's C operations are atomic under the
    GIL); writers serialise.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 0:
            raise ValueError("a cache capacity is zero or more")
        self._capacity = capacity
        self._entries: OrderedDict[int, CaseRecord] = OrderedDict()
        self._lock = threading.Lock()
        # Counts forget() and clear() calls: cases loaded while one ran may be dead already, so they are not kept.
        self._forgets = 0

    @property
    def enabled(self) -> bool:
        """False when the capacity is 0: every search reads the store as before."""
        return self._capacity > 0

    def __len__(self) -> int:
        return len(self._entries)

    def get_many(
        self, keys: Sequence[int], load: Callable[[list[int]], dict[int, CaseRecord]]
    ) -> dict[int, CaseRecord]:
        """The cases of `keys`: cached ones as they are, others from `load` (then kept); absent keys are left out."""
        entries = self._entries
        found: dict[int, CaseRecord] = {}
        missing: list[int] = []
        for key in keys:
            case = entries.get(key)
            if case is None:
                missing.append(key)
                continue
            found[key] = case
            with suppress(KeyError):  # forgotten meanwhile: this search still had it
                entries.move_to_end(key)
        if missing:
            forgets = self._forgets
            loaded = load(missing)
            found.update(loaded)
            self._put(loaded, forgets)
        return found

    def forget(self, keys: Iterable[int]) -> None:
        """Drops the entries of deleted or replaced keys."""
        keys = list(keys)
        if not keys:  # most upserts replace nothing: loads in flight may keep what they read
            return
        with self._lock:
            self._forgets += 1
            for key in keys:
                self._entries.pop(key, None)

    def clear(self) -> None:
        """Drops every entry (when the memory reloads)."""
        with self._lock:
            self._forgets += 1
            self._entries.clear()

    def _put(self, cases: dict[int, CaseRecord], forgets: int) -> None:
        if not self.enabled:
            return
        with self._lock:
            if forgets != self._forgets:
                return
            self._entries.update(cases)
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)


class ServedCases:
    """The cases of a search's hits, as returned: scrubbed, through the cache, without those deleted meanwhile."""

    def __init__(self, store: CaseStore, cache_size: int) -> None:
        self._store = store
        self._cache = ServedCaseCache(cache_size)

    def __len__(self) -> int:
        return len(self._cache)

    def of(self, keys: list[int]) -> dict[int, CaseRecord]:
        """The live cases among `keys`, by key (another replica may have deleted one this replica's index holds)."""
        if not self._cache.enabled:
            return self._scrubbed(keys)
        # The store says which hits still live; the cache supplies their texts, which a key never changes.
        live = self._store.live_among(keys)
        return self._cache.get_many([key for key in keys if key in live], self._scrubbed)

    def forget(self, keys: Iterable[int]) -> None:
        """Drops deleted or replaced keys."""
        self._cache.forget(keys)

    def clear(self) -> None:
        """Drops every case (when the memory reloads)."""
        self._cache.clear()

    def _scrubbed(self, keys: list[int]) -> dict[int, CaseRecord]:
        # Scrubbing again on the way out (about 0.1 ms a case) also masks what an older scrubber let into the store,
        # e.g. bare names.
        return {key: without_personal_data(record) for key, record in self._store.by_keys(keys).items()}
