"""The helpdesk's memory: validated cases, their embeddings, the store of record and the index built from it."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from linli.embedding import Embedder, Vectors
from linli.errors import AlreadyExists, FailedPrecondition, InvalidArgument
from linli.pii import scrubber_fingerprint
from services.retrieval.cases import CaseFilter, CaseRecord, read_corpus, validate_cases, validate_texts
from services.retrieval.changes import AppliedChanges, FeedGap, apply_changes
from services.retrieval.filter_index import FilterIndex
from services.retrieval.index import IndexParams, VectorIndex
from services.retrieval.metrics import SEARCH_SECONDS
from services.retrieval.queries import SearchAnswer, SearchQuery, checked_query
from services.retrieval.served_cases import ServedCases, without_personal_data
from services.retrieval.snapshots import SnapshotStore
from services.retrieval.store import CaseStore

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IndexStats:
    """What the memory holds."""

    case_count: int
    dimension: int
    model: str
    index_type: str
    updated_at: datetime
    stale_fraction: float
    snapshot: str


# An HNSW index with more tombstones than this is rebuilt from the store in the background.
REBUILD_STALE_FRACTION = 0.2
# Scrubbed cases kept for searches by default (about 1 KB each with texts of typical length, so 20 MB).
DEFAULT_CASE_CACHE_SIZE = 20_000


class CaseMemory:
    """Embeds, stores and finds cases.

    The case store is the record; the FAISS index is derived from it, loaded from the newest valid snapshot and
    reconciled with the store at start (see docs/adr/0001). Searches never wait for writers: they use whichever
    index object is current when they start, and reloads and rebuilds swap in a complete new one.
    """

    def __init__(
        self,
        embedder: Embedder,
        store: CaseStore,
        *,
        max_k: int,
        max_batch: int,
        params: IndexParams | None = None,
        snapshots: SnapshotStore | None = None,
        model_checksum: str = "",
        case_cache_size: int = DEFAULT_CASE_CACHE_SIZE,
    ) -> None:
        self._embedder = embedder
        self._store = store
        self._params = params or IndexParams()
        self._index = VectorIndex(embedder.dimension, self._params)
        # What each filter matches, kept beside the index so a filtered search never reads the store's keys.
        self._filters = FilterIndex(self._params.exact_subset_limit, self._params.exact_subset_max_share)
        self._snapshots = snapshots
        self._model_checksum = model_checksum or embedder.model_name
        self._max_k = max_k
        self._max_batch = max_batch
        self._served = ServedCases(store, case_cache_size)
        self._updated_at = datetime.now(UTC)
        self._snapshot_name = ""
        # The newest change of the store's feed this replica has applied (docs/adr/0011).
        self._applied_seq = 0
        # Upserts, deletes, reloads, rebuilds and catching up change store and index together: one at a time.
        self._write_lock = threading.RLock()
        self._rebuilding = threading.Event()

    @property
    def model_name(self) -> str:
        """Name of the embedding model."""
        return self._embedder.model_name

    @property
    def dimension(self) -> int:
        """Vector dimension."""
        return self._embedder.dimension

    def load(self) -> int:
        """Makes the index current: newest valid snapshot plus what the store changed since, or a full rebuild."""
        with self._write_lock:
            self._reembed_other_models()
            self._snapshot_name = ""  # stays empty when the index is rebuilt from the store
            # Read before the scans: whatever commits during them comes again as a change after this one.
            watermark = self._store.last_seq()
            from_snapshot = self._index_from_snapshot(watermark)
            if from_snapshot is not None:
                index, since = from_snapshot
                try:
                    return self._swap_in(index, min(since, watermark))
                except FeedGap as gap:
                    logger.warning("the change feed was pruned past the snapshot; rebuilding", extra=vars(gap))
                    self._snapshot_name = ""
            return self._load_from_store()

    def _load_from_store(self) -> int:
        """Index and filter postings from a scan of the store, plus the changes committed during the scan (a FeedGap
        only if the retention is shorter than the scan)."""
        watermark = self._store.last_seq()  # before the scan: what commits during it comes again after this
        return self._swap_in(self._index_from_store(), watermark)

    def _swap_in(self, index: VectorIndex, since: int) -> int:
        filters = self._filters_from_store()
        applied = self._apply_feed(index, filters, since)
        self._filters, self._index = filters, index
        self._served.clear()
        self._applied_seq = applied.seq
        self._updated_at = datetime.now(UTC)
        return index.size

    def _apply_feed(self, index: VectorIndex, filters: FilterIndex, since: int) -> AppliedChanges:
        return apply_changes(
            self._store, index, filters, since=since, model=self.model_name, forget=self._served.forget
        )

    @property
    def applied_seq(self) -> int:
        """The newest change of the case store's feed this replica holds."""
        return self._applied_seq

    def held_keys(self) -> set[int]:
        """The keys the index holds (to compare a replica with the store)."""
        return self._index.keys()

    def catch_up(self) -> AppliedChanges:
        """Applies what other replicas wrote to the store since the last call (their changes in the feed)."""
        with self._write_lock:
            try:
                applied = self._apply_feed(self._index, self._filters, since=self._applied_seq)
            except FeedGap as gap:
                logger.warning("changes this replica needs were pruned from the feed; rebuilding", extra=vars(gap))
                held = self._index.keys()
                self._load_from_store()
                return AppliedChanges(self._applied_seq, len(self._index.keys() - held), len(held - self._index.keys()))
            self._applied_seq = applied.seq
            if applied.added or applied.removed:
                self._updated_at = datetime.now(UTC)
        if applied.added or applied.removed:
            self._maybe_rebuild()
        return applied

    def reload(self) -> int:
        """Loads the newest snapshot (or rebuilds) and swaps it in; searches in flight finish on the old index."""
        return self.load()

    def snapshot(self) -> Path:
        """Writes a snapshot of the current index; raises if no snapshot folder is configured."""
        if self._snapshots is None:
            raise FailedPrecondition("no snapshot folder is configured")
        with self._write_lock:
            index = self._index
            serialized = index.serialize()
            max_key = max(index.keys(), default=0)
            count = index.size
            seq = self._applied_seq
        path = self._snapshots.write(
            serialized,
            model=self.model_name,
            model_checksum=self._model_checksum,
            dimension=self.dimension,
            count=count,
            kind=index.kind.value,
            max_key=max_key,
            seq=seq,
        )
        self._snapshot_name = path.name
        logger.info("snapshot written", extra={"snapshot": path.name, "cases": count})
        return path

    def seed(self, corpus: Path) -> int:
        """Loads a JSONL corpus when the store is empty; returns how many cases were added."""
        if self._store.count() > 0:
            return 0
        cases = read_corpus(corpus)
        for start in range(0, len(cases), self._max_batch):
            self.upsert(cases[start : start + self._max_batch])
        logger.info("seeded the case memory", extra={"count": len(cases), "corpus": str(corpus)})
        return len(cases)

    def embed(self, texts: list[str]) -> Vectors:
        """Embeds non-empty texts, at most `max_batch` of them."""
        validate_texts(texts, max_batch=self._max_batch)
        return self._embedder.embed(texts)

    def search(
        self, *, text: str | None = None, vector: Vectors | None = None, k: int, case_filter: CaseFilter
    ) -> list[tuple[CaseRecord, float]]:
        """The `k` cases closest to a text or a vector that pass the filter, best first."""
        return self.search_with_query(text=text, vector=vector, k=k, case_filter=case_filter)[1]

    def search_with_query(
        self, *, text: str | None = None, vector: Vectors | None = None, k: int, case_filter: CaseFilter
    ) -> SearchAnswer:
        """`search`, and the unit query vector it searched with (a text's embedding, as `embed` gives it)."""
        return self.search_many([SearchQuery(k, case_filter, text, vector)], field=None)[0]

    def search_many(self, queries: Sequence[SearchQuery], *, field: str | None = "searches") -> list[SearchAnswer]:
        """Each query's answer as `search_with_query` gives it: the texts embedded in one call, the hits' cases read
        in one query. An invalid query raises InvalidArgument with its fields under `<field>[i].`."""
        if field is not None and not 1 <= len(queries) <= self._max_batch:
            raise InvalidArgument.for_field(field, f"give 1 to {self._max_batch} searches")
        rows = [self._checked(query, None if field is None else f"{field}[{i}]") for i, query in enumerate(queries)]
        texts = [query.text or "" for query, row in zip(queries, rows, strict=True) if row is None]
        embedded = iter(self._embedder.embed(texts) if texts else ())
        units = [next(embedded)[np.newaxis, :] if row is None else row for row in rows]
        started = time.perf_counter()
        index, filters = self._index, self._filters
        found = [
            index.search(unit, query.k, None if query.case_filter.is_empty else filters.select(query.case_filter))
            for unit, query in zip(units, queries, strict=True)
        ]
        records = self._served.of(sorted({key for hits in found for key, _ in hits}))
        share = (time.perf_counter() - started) / len(queries)
        for _ in queries:
            SEARCH_SECONDS.labels(index.kind.value).observe(share)
        # A case deleted between search and read is skipped rather than failing the request.
        return [
            (unit[0], [(records[key], score) for key, score in hits if key in records])
            for unit, hits in zip(units, found, strict=True)
        ]

    def _checked(self, query: SearchQuery, where: str | None) -> Vectors | None:
        try:
            return checked_query(query, max_k=self._max_k, dimension=self.dimension, known=self._filters.known)
        except InvalidArgument as error:
            if where is None:
                raise
            raise error.nested(where) from None

    def upsert(self, cases: list[CaseRecord]) -> int:
        """Inserts or replaces cases with personal data scrubbed; a known id may not move to another community."""
        if not cases:
            raise InvalidArgument.for_field("cases", "give at least one case")
        if len(cases) > self._max_batch:
            raise InvalidArgument.for_field("cases", f"at most {self._max_batch} cases per call")
        # Cases are shown to other residents as precedents: scrub before anything is validated, embedded or stored.
        cases = [without_personal_data(case) for case in cases]
        validate_cases(cases)
        vectors = self._embedder.embed([case.complaint for case in cases])
        with self._write_lock:
            existing = self._store.existing([case.id for case in cases])
            for case in cases:
                known = existing.get(case.id)
                if known is not None and known.community != case.community:
                    raise AlreadyExists(
                        f"case {case.id!r} exists in community {known.community!r}; delete it before moving it"
                    )
            index, filters = self._index, self._filters
            added: list[int] = []

            def add_to_index(keys: list[int]) -> None:
                # Inside the store's transaction: the index knows a key before any search finds it in the store.
                index.upsert(np.asarray(keys, dtype=np.int64), vectors)
                added.extend(keys)
                filters.add(keys, cases)

            try:
                _, replaced = self._store.upsert(
                    cases, vectors, self.model_name, scrubbed_by=scrubber_fingerprint(), before_commit=add_to_index
                )
            except BaseException:
                filters.remove(added)
                index.remove(np.asarray(added, dtype=np.int64))
                raise
            filters.remove(replaced)
            index.remove(np.asarray(replaced, dtype=np.int64))
            self._served.forget(replaced)
            self._updated_at = datetime.now(UTC)
        self._maybe_rebuild()
        return len(cases)

    def delete(self, case_ids: list[str]) -> int:
        """Removes cases by id; returns how many existed."""
        if not case_ids:
            raise InvalidArgument.for_field("case_ids", "give at least one id")
        with self._write_lock:
            keys = self._store.delete(case_ids)
            self._served.forget(keys)
            self._filters.remove(keys)
            self._index.remove(np.asarray(keys, dtype=np.int64))
            if keys:
                self._updated_at = datetime.now(UTC)
        self._maybe_rebuild()
        return len(keys)

    def stats(self) -> IndexStats:
        """Counts, model and index kind."""
        index = self._index
        return IndexStats(
            case_count=index.size,
            dimension=self.dimension,
            model=self.model_name,
            index_type=index.description,
            updated_at=self._updated_at,
            stale_fraction=index.stale_fraction,
            snapshot=self._snapshot_name,
        )

    def rebuild(self) -> None:
        """Builds a fresh index of the right kind from the store and swaps it in."""
        with self._write_lock:
            self._index = self._index_from_store()
            self._updated_at = datetime.now(UTC)

    def _maybe_rebuild(self) -> None:
        index = self._index
        wrong_kind = index.kind is not self._params.kind_for(index.size)
        if not (wrong_kind or index.stale_fraction > REBUILD_STALE_FRACTION) or self._rebuilding.is_set():
            return
        self._rebuilding.set()

        def run() -> None:
            try:
                self.rebuild()
                logger.info("index rebuilt", extra={"kind": self._index.kind.value, "cases": self._index.size})
            except Exception:
                logger.exception("background index rebuild failed; the current index stays")
            finally:
                self._rebuilding.clear()

        threading.Thread(target=run, name="index-rebuild", daemon=True).start()

    def _reembed_other_models(self) -> None:
        stale: list[int] = []
        for keys, vectors, models in self._store.iter_vectors():
            usable = vectors.shape[1] == self.dimension
            stale.extend(key for key, model in zip(keys, models, strict=True) if not usable or model != self.model_name)
        for start in range(0, len(stale), self._max_batch):
            keys = stale[start : start + self._max_batch]
            self._store.replace_vectors(keys, self._embedder.embed(self._store.texts(keys)), self.model_name)
        if stale:
            logger.info("re-embedded cases stored under another model", extra={"count": len(stale)})

    def _index_from_store(self) -> VectorIndex:
        keys: list[int] = []
        chunks: list[Vectors] = []
        for batch_keys, vectors, _models in self._store.iter_vectors():
            keys.extend(batch_keys)
            chunks.append(vectors)
        vectors = np.concatenate(chunks) if chunks else np.zeros((0, self.dimension), dtype=np.float32)
        return VectorIndex.build(self.dimension, self._params, np.asarray(keys, dtype=np.int64), vectors)

    def _filters_from_store(self) -> FilterIndex:
        filters = FilterIndex(self._params.exact_subset_limit, self._params.exact_subset_max_share)
        for keys, facets in self._store.iter_facets():
            filters.add(keys, facets)
        return filters

    def _index_from_snapshot(self, watermark: int) -> tuple[VectorIndex, int] | None:
        """The newest valid snapshot with the store's deletions since removed, and the feed position it covers."""
        if self._snapshots is None:
            return None
        self._snapshots.remove_leftovers()
        found = self._snapshots.newest_valid(model_checksum=self._model_checksum, dimension=self.dimension)
        if found is None:
            return None
        manifest = found.manifest
        index = VectorIndex(self.dimension, self._params, found.index)
        if index.storage not in (None, self._params.storage):
            logger.info("snapshot stores vectors otherwise than configured; rebuilding", extra={"snapshot": found.name})
            return None
        # HNSW tombstones are not in the snapshot's file: the store's live keys say which held keys are gone.
        live = self._store.live_keys()
        held = index.keys()
        index.remove(np.fromiter(held - live, dtype=np.int64))
        if manifest.seq:  # the feed adds what came since
            since = manifest.seq
        else:  # written before the feed existed: keys only grow, so what came since is above its largest key
            for keys, vectors, _models in self._store.iter_vectors(above=manifest.max_key):
                index.upsert(np.asarray(keys, dtype=np.int64), vectors)
            if (live - held) - {key for key in live if key > manifest.max_key}:
                logger.warning("snapshot misses stored cases; rebuilding", extra={"snapshot": found.name})
                return None
            since = watermark
        self._snapshot_name = found.name
        logger.info("index loaded from snapshot", extra={"snapshot": found.name, "cases": index.size, "seq": since})
        return index, since
