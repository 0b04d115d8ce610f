"""The cases searches return, kept scrubbed in memory so a hit costs neither a store read nor a scrub."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from dataclasses import replace

from linli.pii import scrub, scrubber_fingerprint
from services.retrieval.cases import CaseRecord
from services.retrieval.store import CaseStore


def without_personal_data(case: CaseRecord) -> CaseRecord:
    """The case with its texts scrubbed (linli.pii), as it is stored and shown to residents."""
    return replace(case, complaint=scrub(case.complaint), resolution=scrub(case.resolution))


# Which of these keys are stored now.
LiveKeys = Callable[[list[int]], set[int]]
# The live cases of these keys, scrubbed; the second argument holds those already known, to reuse as they are.
LoadCases = Callable[[list[int], dict[int, CaseRecord]], dict[int, CaseRecord]]


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

    def get_many(self, keys: Sequence[int], live: LiveKeys, load: LoadCases) -> dict[int, CaseRecord]:
        """The live cases of `keys`, absent ones left out: all cached, `live` says which still live (a key query);
        any not cached, `load` reads every key's live case at once (a row says its case lives; the cached cases are
        given, so that it need not scrub them again), and the new ones are kept.
        """
        entries = self._entries
        found: dict[int, CaseRecord] = {}
        for key in keys:
            case = entries.get(key)
            if case is not None:
                found[key] = case
                with suppress(KeyError):  # forgotten meanwhile: this search still had it
                    entries.move_to_end(key)
        if len(found) == len(keys):
            alive = live(list(keys))
            return {key: case for key, case in found.items() if key in alive}
        forgets = self._forgets
        loaded = load(list(keys), found)
        self._put({key: case for key, case in loaded.items() if key not in found}, forgets)
        return loaded

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
        # The store says which hits still live; the cache supplies their texts, which a key never changes. One query
        # either way: of the keys alone when every text is cached, of the rows when one is not.
        return self._cache.get_many(keys, self._store.live_among, self._scrubbed)

    def forget(self, keys: Iterable[int]) -> None:
        """Drops deleted or replaced keys."""
        self._cache.forget(keys)

    def clear(self) -> None:
        """Drops every case (when the memory reloads)."""
        self._cache.clear()

    def _scrubbed(self, keys: list[int], known: dict[int, CaseRecord] | None = None) -> dict[int, CaseRecord]:
        # A case this very scrubber stored is clean already; one an older scrubber stored is scrubbed again on the
        # way out (about 0.1 ms a case), which masks what it let through, e.g. bare names (docs/adr/0015).
        records, stale = self._store.served_by_keys(keys, scrubber_fingerprint())
        known = known or {}
        return {
            key: known.get(key) or (without_personal_data(record) if key in stale else record)
            for key, record in records.items()
        }
