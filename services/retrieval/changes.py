"""Applying the case store's change feed to one replica's FAISS index and filter postings (docs/adr/0011)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from services.retrieval.cases import CaseStatus
from services.retrieval.filter_index import FilterIndex
from services.retrieval.index import VectorIndex
from services.retrieval.store import DELETE, UPSERT, CaseStore, Change
from services.retrieval.store_rows import CaseFacetsRow

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AppliedChanges:
    """What one pass over the feed did."""

    seq: int  # the newest change applied (the one passed in when there was none)
    added: int
    removed: int


class FeedGap(Exception):
    """Changes a replica still needs were pruned from the feed: only a rebuild from the store makes it whole again."""

    def __init__(self, since: int, pruned_through: int) -> None:
        super().__init__(f"changes after seq {since} are needed, but the feed was pruned through seq {pruned_through}")
        self.since, self.pruned_through = since, pruned_through


def apply_changes(
    store: CaseStore,
    index: VectorIndex,
    filters: FilterIndex,
    *,
    since: int,
    model: str,
    forget: Callable[[list[int]], None],
) -> AppliedChanges:
    """Applies every change after `since`, oldest first, and returns where the feed now stands.

    `forget(keys)` is told every deleted key (whether the index held it or not), so what caches the cases drops them.

    Idempotent, so a replica may replay changes it already holds (its own writes, or those a snapshot or a scan of
    the store already covered): keys are never reused, an upsert of a held key is skipped, a delete of an absent key
    is ignored. An upsert whose row is gone was deleted later, and that delete follows in the feed.

    Raises FeedGap, having applied nothing of the gap, when changes after `since` were pruned (docs/adr/0011).
    """
    seq, added, removed = since, 0, 0
    while True:
        changes = store.changes_since(seq)
        # Read after the changes: a pruning that deleted any of them had committed its watermark by then.
        pruned_through = store.pruned_through()
        if pruned_through > seq:
            raise FeedGap(seq, pruned_through)
        if not changes:
            break
        batch_added, batch_removed = _apply_batch(store, index, filters, changes, model, forget)
        added, removed, seq = added + batch_added, removed + batch_removed, changes[-1].seq
    return AppliedChanges(seq, added, removed)


def _apply_batch(
    store: CaseStore,
    index: VectorIndex,
    filters: FilterIndex,
    changes: list[Change],
    model: str,
    forget: Callable[[list[int]], None],
) -> tuple[int, int]:
    """Applies consecutive runs of upserts and of deletes in feed order; returns (added, removed) keys."""
    added = removed = 0
    start = 0
    while start < len(changes):
        op = changes[start].op
        end = start
        while end < len(changes) and changes[end].op == op:
            end += 1
        keys = [change.key for change in changes[start:end]]
        if op == UPSERT:
            added += _add(store, index, filters, keys, model)
        elif op == DELETE:
            held = index.holding(np.asarray(keys, dtype=np.int64))
            forget(keys)
            filters.remove(keys)
            index.remove(held)
            removed += len(held)
        else:
            raise ValueError(f"unknown change {op!r} in the case store's feed")
        start = end
    return added, removed


def _add(store: CaseStore, index: VectorIndex, filters: FilterIndex, keys: list[int], model: str) -> int:
    # Index and postings are checked apart: at load, the index comes from a snapshot and the postings from the store.
    for_index = set(keys) - set(index.holding(np.asarray(keys, dtype=np.int64)).tolist())
    for_filters = set(keys) - set(filters.holding(keys))
    rows = store.rows_by_keys(sorted(for_index | for_filters))
    # A row of another model is written by a replica on the other side of a model change: its vector may not even
    # have this model's dimension. This replica's re-embedding at its next start picks it up.
    foreign = {key for key, row in rows.items() if row.model != model}
    if foreign:
        logger.warning("changes of another embedding model skipped", extra={"count": len(foreign)})
    index_keys = [key for key in sorted(for_index) if key in rows and key not in foreign]
    if index_keys:
        vectors = np.stack([np.frombuffer(rows[key].vector, dtype=np.float32) for key in index_keys])
        index.upsert(np.asarray(index_keys, dtype=np.int64), vectors)
    filter_keys = [key for key in sorted(for_filters) if key in rows and key not in foreign]
    filters.add(
        filter_keys,
        [
            CaseFacetsRow(rows[key].community, rows[key].party, CaseStatus(rows[key].status), rows[key].resolved_at)
            for key in filter_keys
        ],
    )
    return len(index_keys)
