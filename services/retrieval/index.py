"""An exact inner-product FAISS index keyed by int64 ids, safe to search while others write."""

from __future__ import annotations

import threading
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt

from services.retrieval.embedder import Vectors

Ids = npt.NDArray[np.int64]


class VectorIndex:
    """Exact search (IndexIDMap2 over IndexFlatIP) on normalised vectors, so scores are cosine similarities.

    A flat index is exact and needs no training, which is right while the helpdesk holds thousands to a few hundred
    thousand cases; an approximate index for larger sizes is a later step (see docs/architecture.md).
    """

    def __init__(self, dimension: int) -> None:
        self.dimension = dimension
        # Typed Any: faiss's bundled stubs describe the C++ signatures, not the numpy-accepting wrappers.
        self._index: Any = faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
        # A search must not run during add/remove; exact search at this size takes well under a millisecond,
        # so one lock costs little.
        self._lock = threading.RLock()

    @property
    def size(self) -> int:
        """Number of vectors held."""
        return int(self._index.ntotal)

    @property
    def description(self) -> str:
        """A short FAISS-style description of the index type."""
        return "IDMap2,Flat(IP)"

    def upsert(self, ids: Ids, vectors: Vectors) -> None:
        """Adds vectors, replacing any already stored under the same ids."""
        if vectors.shape != (len(ids), self.dimension):
            raise ValueError(f"expected {len(ids)} vectors of dimension {self.dimension}, got {vectors.shape}")
        with self._lock:
            self._index.remove_ids(np.asarray(ids, dtype=np.int64))
            self._index.add_with_ids(vectors, np.asarray(ids, dtype=np.int64))

    def remove(self, ids: Ids) -> int:
        """Removes the vectors with these ids; returns how many were there."""
        with self._lock:
            return int(self._index.remove_ids(np.asarray(ids, dtype=np.int64)))

    def search(self, query: Vectors, k: int, allowed: Ids | None = None) -> list[tuple[int, float]]:
        """Returns up to `k` (id, cosine) pairs, best first, optionally only among `allowed` ids."""
        if query.shape != (1, self.dimension):
            raise ValueError(f"expected one query vector of dimension {self.dimension}, got {query.shape}")
        params = selector = None
        if allowed is not None:
            if len(allowed) == 0:
                return []
            # `selector` stays referenced until the search returns: FAISS holds only a raw pointer to it.
            selector = faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64))
            params = faiss.SearchParameters()
            params.sel = selector
        with self._lock:
            k = min(k, self.size)
            if k == 0:
                return []
            scores, ids = self._index.search(query, k, params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i != -1]
