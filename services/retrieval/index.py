"""FAISS indexes keyed by int64 ids: exact while small, HNSW above a threshold (fp32 or SQ8-compressed vectors);
filtered searches planned by the filter's cardinality; safe to search while others write."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt

from linli.embedding import Vectors
from services.retrieval.filter_index import KeyBitmap, KeySelection

Ids = npt.NDArray[np.int64]


class IndexKind(StrEnum):
    """Which FAISS structure holds the vectors."""

    FLAT = "flat"  # exact inner product, no training; removals are real
    HNSW = "hnsw"  # graph search, sub-linear; removals are tombstones filtered at search time


class VectorStorage(StrEnum):
    """How an HNSW index stores its vectors."""

    FP32 = "fp32"  # exact vectors: 2 KB a 512-d vector, about 2.4 KB a case with the graph
    SQ8 = (
        "sq8"  # one byte a dimension (trained min/max per dimension): about 0.78 KB a case with 24 links, 10 M in 8 GB
    )


# Measured on 1M clustered vectors (bench/ann_search.py --compressed, 2 busy cores): with the graph built at
# efConstruction 80, M=24 and efSearch 192 give recall@10 0.961 (224 and 256 no more: exact search over the same SQ8
# codes scores 0.961, the quantiser's own ceiling) at p50 0.38 ms, p99 0.62 ms and 777 B a vector, so 10 M cases
# take about 7.6 GiB with the filter postings. Built at FAISS's default efConstruction 40 the same index reached only
# 0.948 / 0.955 at efSearch 192 / 256 (p99 1.7 ms); M=16 gave 0.933 at 713 B.
COMPRESSED_HNSW_M = 24
COMPRESSED_EF_SEARCH = 192


@dataclass(frozen=True)
class IndexParams:
    """When to switch to HNSW and how to build and search it.

    Measured by bench/ann_search.py on 1M clustered 512-d vectors calibrated to m3e-small, 2 cores: M=32 links per
    node and efConstruction 80 build in about 500 CPU-seconds (efConstruction 40 halves that but recall@10 at
    efSearch 128 falls to 0.983); efSearch 128 gives recall@10 0.998-0.9997 at p50 0.43 ms and p99 0.72 ms per
    single-threaded query on quiet cores (efSearch 64: 0.996, p99 0.56 ms). 128 keeps a recall margin for real data
    and filtered searches within the 2 ms target. Resident memory is about 2.4 KB per vector.

    The threshold: exact search costs 0.44 ms at 10k and 15.6 ms at 100k per query, HNSW 0.32 ms at 10k with recall
    0.998, so from 20k cases on exact search alone would eat the 2 ms budget (about 3 ms there).
    """

    hnsw_threshold: int = 20_000
    hnsw_m: int = 32
    ef_construction: int = 80
    ef_search: int = 128
    storage: VectorStorage = VectorStorage.FP32
    # A filtered search that leaves at most this many candidates is answered exactly from their stored vectors:
    # graph traversal under a selective filter loses recall, while gathering and scoring 10k vectors costs about
    # 2 ms (fp32; SQ8 codes gather four times fewer bytes). Above it, HNSW with the filter as a bitmap selector.
    exact_subset_limit: int = 10_000
    # ... and only when at most this share of the cases passes: a broad filter costs HNSW little (its beam widens by
    # 1/selectivity) while the exact cost grows with the matches (resolved_only passes ~90 %).
    exact_subset_max_share: float = 0.1
    # A filtered HNSW search raises efSearch by 1/selectivity (half the keys pass: twice the beam), up to this factor.
    max_ef_boost: float = 8.0
    # FAISS (OpenMP) threads per search. One query gains nothing from a thread team and pays to wake it; on busy
    # cores the team also waits for a descheduled member: two threads made single queries several times slower.
    search_threads: int = 1
    # FAISS threads to build or grow the index; 0 means every core.
    build_threads: int = 0

    def stored_as(self, storage: VectorStorage) -> IndexParams:
        """These parameters with vectors stored as `storage`; SQ8 also takes fewer graph links (M=24) and a wider
        beam, so that a case takes about 0.78 KB (codes 512 B, links 192 B, FAISS id maps ~70 B): 10 M in 8 GB."""
        if storage is VectorStorage.SQ8:
            return replace(self, storage=storage, hnsw_m=COMPRESSED_HNSW_M, ef_search=COMPRESSED_EF_SEARCH)
        return replace(self, storage=storage)

    def searches_exactly(self, matches: int, size: int) -> bool:
        """Whether a filter passing `matches` of `size` cases is searched exactly rather than by HNSW."""
        return matches <= self.exact_subset_limit and matches <= self.exact_subset_max_share * size

    def kind_for(self, size: int) -> IndexKind:
        """The index kind for a collection of `size` vectors."""
        return IndexKind.HNSW if size >= self.hnsw_threshold else IndexKind.FLAT


@contextmanager
def faiss_threads(count: int) -> Iterator[None]:
    """Runs the block with `count` FAISS threads (0: every core) in the calling thread, then restores the setting.

    OpenMP keeps the thread count per calling thread, so a gRPC handler must set it itself: a setting made once at
    start in the main thread would not reach it.
    """
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(count or os.cpu_count() or 1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(previous)


def new_faiss_index(dimension: int, kind: IndexKind, params: IndexParams) -> Any:
    """An empty IndexIDMap2 over the chosen structure, inner-product metric (cosine on normalised vectors)."""
    if kind is IndexKind.FLAT:
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
    if params.storage is VectorStorage.SQ8:
        quantizer = faiss.ScalarQuantizer.QT_8bit
        inner = faiss.IndexHNSWSQ(dimension, quantizer, params.hnsw_m, faiss.METRIC_INNER_PRODUCT)
    else:
        inner = faiss.IndexHNSWFlat(dimension, params.hnsw_m, faiss.METRIC_INNER_PRODUCT)
    # Both storages: left unset, FAISS builds with efConstruction 40 (a poorer graph, lower recall at any efSearch).
    inner.hnsw.efConstruction = params.ef_construction
    inner.hnsw.efSearch = params.ef_search
    return faiss.IndexIDMap2(inner)


def storage_of(faiss_index: Any) -> Any:
    """The flat code store under an IndexIDMap2 (the index itself when flat, the HNSW graph's storage otherwise)."""
    inner = faiss.downcast_index(faiss_index.index)
    return faiss.downcast_index(inner.storage) if isinstance(inner, faiss.IndexHNSW) else inner


def kind_of(faiss_index: Any) -> IndexKind:
    """The kind of an IndexIDMap2 read back from a snapshot."""
    inner = faiss.downcast_index(faiss_index.index)
    return IndexKind.HNSW if isinstance(inner, faiss.IndexHNSW) else IndexKind.FLAT


class VectorIndex:
    """Vectors by int64 key with upsert, remove and (optionally filtered) top-k search.

    Readers and writers share one lock: FAISS must not search during add/remove, and both are short. An HNSW graph
    cannot remove a node, so removed keys become tombstones (a bitmap) that searches skip; `stale_fraction` tells the
    owner when a rebuild is worth it. HNSW rows are never moved, so each key's row is kept to read its stored code.
    """

    def __init__(self, dimension: int, params: IndexParams, faiss_index: Any | None = None) -> None:
        self.dimension = dimension
        self.params = params
        self._index: Any = (
            faiss_index if faiss_index is not None else new_faiss_index(dimension, IndexKind.FLAT, params)
        )
        if self._index.d != dimension:
            raise ValueError(f"index dimension {self._index.d} differs from the model's {dimension}")
        self.kind = kind_of(self._index)
        self._tombstones = KeyBitmap()
        self._row_of_key: npt.NDArray[np.int32] = np.full(0, -1, dtype=np.int32)
        # The live keys, so a replica following the change feed can tell which changes it already holds.
        self._live = KeyBitmap()
        held = faiss.vector_to_array(self._index.id_map).astype(np.int64)
        self._live.add(held)
        if self.kind is IndexKind.HNSW:
            self._note_rows(held, 0)
        self._lock = threading.Lock()

    @classmethod
    def build(cls, dimension: int, params: IndexParams, ids: Ids, vectors: Vectors) -> VectorIndex:
        """A new index of the kind that suits len(ids), holding these vectors (trains SQ8 storage on them)."""
        index = cls(dimension, params, new_faiss_index(dimension, params.kind_for(len(ids)), params))
        if len(ids):
            with faiss_threads(params.build_threads):
                rows = np.ascontiguousarray(vectors, dtype=np.float32)
                if not index._index.is_trained:
                    index._index.train(rows)
                index._index.add_with_ids(rows, np.asarray(ids, np.int64))
            index._live.add(np.asarray(ids, np.int64))
            if index.kind is IndexKind.HNSW:
                index._note_rows(np.asarray(ids, np.int64), 0)
        return index

    @property
    def faiss_index(self) -> Any:
        """The underlying IndexIDMap2, for snapshots (do not mutate)."""
        return self._index

    @property
    def size(self) -> int:
        """Number of live vectors."""
        return int(self._index.ntotal) - self._tombstones.count

    @property
    def stale_fraction(self) -> float:
        """Share of stored vectors that are tombstones."""
        total = int(self._index.ntotal)
        return self._tombstones.count / total if total else 0.0

    @property
    def storage(self) -> VectorStorage | None:
        """How an HNSW index stores its vectors (None for a flat index)."""
        if self.kind is IndexKind.FLAT:
            return None
        return (
            VectorStorage.SQ8 if isinstance(storage_of(self._index), faiss.IndexScalarQuantizer) else VectorStorage.FP32
        )

    @property
    def description(self) -> str:
        """A short FAISS-style description of the index."""
        if self.kind is IndexKind.FLAT:
            return "IDMap2,Flat(IP)"
        stored = "SQ8" if self.storage is VectorStorage.SQ8 else "Flat"
        links = faiss.downcast_index(self._index.index).hnsw.nb_neighbors(1)
        return f"IDMap2,HNSW{links},{stored}(IP) efSearch={self.params.ef_search}"

    def serialize(self) -> Any:
        """The index as bytes (a numpy uint8 array), copied under the lock so writers wait only for a memcpy."""
        with self._lock:
            return faiss.serialize_index(self._index)

    def keys(self) -> set[int]:
        """The live keys."""
        with self._lock:
            held = faiss.vector_to_array(self._index.id_map).astype(np.int64)
            return set(held[~self._tombstones.contains(held)].tolist())

    def holding(self, ids: Ids) -> Ids:
        """Those of `ids` the index holds live."""
        keys = np.asarray(ids, dtype=np.int64)
        with self._lock:
            return keys[self._live.contains(keys)]

    def upsert(self, ids: Ids, vectors: Vectors) -> None:
        """Adds vectors under new keys (keys are never reused, so there is nothing to replace in place)."""
        if vectors.shape != (len(ids), self.dimension):
            raise ValueError(f"expected {len(ids)} vectors of dimension {self.dimension}, got {vectors.shape}")
        keys = np.asarray(ids, np.int64)
        with self._lock, faiss_threads(self.params.build_threads):
            first_row = int(self._index.ntotal)
            self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), keys)
            self._live.add(keys)
            if self.kind is IndexKind.HNSW:
                self._note_rows(keys, first_row)

    def remove(self, ids: Ids) -> None:
        """Removes keys: for real from a flat index, as tombstones from HNSW."""
        if len(ids) == 0:
            return
        keys = np.asarray(ids, dtype=np.int64)
        with self._lock:
            self._live.discard(keys)
            if self.kind is IndexKind.FLAT:
                self._index.remove_ids(keys)
                return
            held = keys[keys < len(self._row_of_key)]
            held = held[self._row_of_key[held] >= 0]
            self._tombstones.add(held)
            self._row_of_key[held] = -1

    def search(self, query: Vectors, k: int, allowed: KeySelection | Ids | None = None) -> list[tuple[int, float]]:
        """Up to `k` (key, cosine) pairs, best first, optionally only among the `allowed` keys.

        A selection of at most `exact_subset_limit` keys is searched exactly over their stored vectors; a broader
        one by HNSW with the selection as a bitmap and a beam widened by 1/selectivity.
        """
        if query.shape != (1, self.dimension):
            raise ValueError(f"expected one query vector of dimension {self.dimension}, got {query.shape}")
        selection = self._selection(allowed)
        if selection is not None and selection.count == 0:
            return []
        with self._lock, faiss_threads(self.params.search_threads):
            if selection is None or self.kind is IndexKind.FLAT:
                return self._search(query, k, selection)
            if self.params.searches_exactly(selection.count, self.size):
                return self._exact_subset(query, k, selection.listed())
            hits = self._search(query, k, selection)
            if len(hits) < min(k, selection.count):
                # Many identical vectors (the same short complaint sent again and again) can cut the graph so
                # that a filtered traversal never reaches the allowed keys: answer the filter exactly instead.
                return self._exact_subset(query, k, selection.listed())
            return hits

    def _selection(self, allowed: KeySelection | Ids | None) -> KeySelection | None:
        if allowed is None or isinstance(allowed, KeySelection):
            return allowed
        return KeySelection.of_keys(allowed)

    def _search(self, query: Vectors, k: int, selection: KeySelection | None) -> list[tuple[int, float]]:
        k = min(k, int(self._index.ntotal))
        if k == 0:
            return []
        # Selectors stay referenced until the search returns: FAISS holds only raw pointers to them.
        selectors: list[Any] = []
        if selection is not None:
            selectors.append(faiss.IDSelectorBitmap(selection.packed()))
        if self._tombstones.count:
            dead = faiss.IDSelectorBitmap(self._tombstones.bits)
            selectors += [dead, faiss.IDSelectorNot(dead)]
            if selection is not None:
                selectors.append(faiss.IDSelectorAnd(selectors[0], selectors[-1]))
        params: Any = None
        if self.kind is IndexKind.HNSW:
            params = faiss.SearchParametersHNSW()
            params.efSearch = self._ef_search(k, selection)
        elif selectors:
            params = faiss.SearchParameters()
        if selectors:
            params.sel = selectors[-1]
        scores, ids = self._index.search(np.ascontiguousarray(query, dtype=np.float32), k, params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i != -1]

    def _ef_search(self, k: int, selection: KeySelection | None) -> int:
        ef = max(self.params.ef_search, k)
        if selection is None:
            return ef
        selectivity = selection.count / max(self.size, 1)
        return int(ef * min(1 / max(selectivity, 1e-9), self.params.max_ef_boost))

    def _exact_subset(self, query: Vectors, k: int, keys: Ids) -> list[tuple[int, float]]:
        keys = keys[keys < len(self._row_of_key)]
        rows = self._row_of_key[keys]
        keys, rows = keys[rows >= 0], rows[rows >= 0]  # unknown keys and tombstones
        if len(keys) == 0:
            return []
        scores = self._inner_products(np.ascontiguousarray(query[0], dtype=np.float32), rows.astype(np.int64))
        top = np.argpartition(-scores, k - 1)[:k] if len(scores) > k else np.arange(len(scores))
        top = top[np.argsort(-scores[top])]
        return [(int(keys[i]), float(scores[i])) for i in top]

    def _inner_products(self, query: npt.NDArray[np.float32], rows: Ids) -> npt.NDArray[np.float32]:
        """The query's inner product with the stored vectors of these rows, by FAISS's single-threaded SIMD kernels
        (numpy's BLAS would start its own threads, which on busy cores made a 5,000-row product several ms)."""
        storage = storage_of(self._index)
        codes = faiss.rev_swig_ptr(storage.codes.data(), int(storage.ntotal) * storage.code_size)
        scores = np.empty(len(rows), dtype=np.float32)
        if isinstance(storage, faiss.IndexFlat):  # read in place, no gathered copy
            faiss.fvec_inner_products_by_idx(
                faiss.swig_ptr(scores), faiss.swig_ptr(query), faiss.swig_ptr(codes.view(np.float32)),
                faiss.swig_ptr(rows), self.dimension, 1, len(rows),
            )  # fmt: skip
        else:
            decoded = storage.sa_decode(codes.reshape(-1, storage.code_size)[rows])
            faiss.fvec_inner_products_ny(
                faiss.swig_ptr(scores), faiss.swig_ptr(query), faiss.swig_ptr(decoded), self.dimension, len(rows)
            )
        return scores

    def _note_rows(self, keys: Ids, first_row: int) -> None:
        if len(keys) == 0:
            return
        needed = int(keys.max()) + 1
        if needed > len(self._row_of_key):
            grown = np.full(max(needed, 2 * len(self._row_of_key)), -1, dtype=np.int32)
            grown[: len(self._row_of_key)] = self._row_of_key
            self._row_of_key = grown
        self._row_of_key[keys] = np.arange(first_row, first_row + len(keys), dtype=np.int32)
