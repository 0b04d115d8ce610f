"""The helpdesk's memory: validated cases, their embeddings, the store of record and the index built from it."""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from linli.errors import AlreadyExists, FieldViolation, InvalidArgument
from services.retrieval.cases import MAX_TEXT_CHARS, CaseFilter, CaseRecord, CaseStatus, validate_cases
from services.retrieval.embedder import Embedder, Vectors
from services.retrieval.index import VectorIndex
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


class CaseMemory:
    """Embeds, stores and finds cases; the store is the record, the FAISS index is rebuilt from it at start."""

    def __init__(self, embedder: Embedder, store: CaseStore, *, max_k: int, max_batch: int) -> None:
        self._embedder = embedder
        self._store = store
        self._index = VectorIndex(embedder.dimension)
        self._max_k = max_k
        self._max_batch = max_batch
        self._updated_at = datetime.now(UTC)
        # Upserts and deletes touch store and index together; one writer at a time keeps them in step.
        self._write_lock = threading.Lock()

    @property
    def model_name(self) -> str:
        """Name of the embedding model."""
        return self._embedder.model_name

    @property
    def dimension(self) -> int:
        """Vector dimension."""
        return self._embedder.dimension

    def load(self) -> int:
        """Builds the index from the store, re-embedding cases stored under another model; returns the count."""
        stale: list[int] = []
        for keys, vectors, models in self._store.iter_vectors():
            usable = vectors.shape[1] == self.dimension
            current = [i for i, model in enumerate(models) if usable and model == self.model_name]
            if len(current) < len(keys):
                stale.extend(np.delete(np.asarray(keys), current).tolist())
            if current:
                self._index.upsert(np.asarray([keys[i] for i in current]), vectors[current])
        for start in range(0, len(stale), self._max_batch):
            keys = stale[start : start + self._max_batch]
            vectors = self._embedder.embed(self._store.texts(keys))
            self._store.replace_vectors(keys, vectors, self.model_name)
            self._index.upsert(np.asarray(keys), vectors)
        if stale:
            logger.info("re-embedded cases stored under another model", extra={"count": len(stale)})
        return self._index.size

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
        if not texts:
            raise InvalidArgument.for_field("texts", "give at least one text")
        if len(texts) > self._max_batch:
            raise InvalidArgument.for_field("texts", f"at most {self._max_batch} texts per call")
        violations = []
        for i, text in enumerate(texts):
            if not text.strip():
                violations.append(FieldViolation(f"texts[{i}]", "must not be empty"))
            elif len(text) > MAX_TEXT_CHARS:
                violations.append(FieldViolation(f"texts[{i}]", f"must be at most {MAX_TEXT_CHARS} characters"))
        if violations:
            raise InvalidArgument.for_fields(violations)
        return self._embedder.embed(texts)

    def search(
        self, *, text: str | None = None, vector: Vectors | None = None, k: int, case_filter: CaseFilter
    ) -> list[tuple[CaseRecord, float]]:
        """The `k` cases closest to a text or a vector that pass the filter, best first."""
        if not 1 <= k <= self._max_k:
            raise InvalidArgument.for_field("k", f"must be between 1 and {self._max_k}")
        self._check_filter(case_filter)
        if vector is None:
            if text is None or not text.strip():
                raise InvalidArgument.for_field("text", "give a non-empty text or a vector")
            if len(text) > MAX_TEXT_CHARS:
                raise InvalidArgument.for_field("text", f"must be at most {MAX_TEXT_CHARS} characters")
            query = self._embedder.embed([text])
        else:
            if vector.shape != (self.dimension,):
                raise InvalidArgument.for_field("vector", f"must have {self.dimension} values, got {vector.size}")
            norm = float(np.linalg.norm(vector))
            if not np.isfinite(norm) or norm == 0.0:
                raise InvalidArgument.for_field("vector", "must be finite and non-zero")
            query = (vector / norm).astype(np.float32).reshape(1, -1)
        allowed = None if case_filter.is_empty else np.asarray(self._store.keys_matching(case_filter))
        hits = self._index.search(query, k, allowed)
        records = self._store.by_keys([key for key, _ in hits])
        # A case deleted between search and read is skipped rather than failing the request.
        return [(records[key], score) for key, score in hits if key in records]

    def upsert(self, cases: list[CaseRecord]) -> int:
        """Inserts or replaces cases; a known id may not move to another community."""
        if not cases:
            raise InvalidArgument.for_field("cases", "give at least one case")
        if len(cases) > self._max_batch:
            raise InvalidArgument.for_field("cases", f"at most {self._max_batch} cases per call")
        validate_cases(cases)
        with self._write_lock:
            existing = self._store.existing([case.id for case in cases])
            for case in cases:
                known = existing.get(case.id)
                if known is not None and known.community != case.community:
                    raise AlreadyExists(
                        f"case {case.id!r} exists in community {known.community!r}; delete it before moving it"
                    )
            vectors = self._embedder.embed([case.complaint for case in cases])
            keys = self._store.upsert(cases, vectors, self.model_name)
            self._index.upsert(np.asarray(keys), vectors)
            self._updated_at = datetime.now(UTC)
        return len(cases)

    def delete(self, case_ids: list[str]) -> int:
        """Removes cases by id; returns how many existed."""
        if not case_ids:
            raise InvalidArgument.for_field("case_ids", "give at least one id")
        with self._write_lock:
            keys = self._store.delete(case_ids)
            self._index.remove(np.asarray(keys, dtype=np.int64))
            if keys:
                self._updated_at = datetime.now(UTC)
        return len(keys)

    def stats(self) -> IndexStats:
        """Counts and model of the index."""
        return IndexStats(
            case_count=self._index.size,
            dimension=self.dimension,
            model=self.model_name,
            index_type=self._index.description,
            updated_at=self._updated_at,
        )

    def _check_filter(self, case_filter: CaseFilter) -> None:
        violations = []
        for column in ("party", "community"):
            value = getattr(case_filter, column)
            if value and value not in self._store.known_values(column):
                violations.append(FieldViolation(f"filter.{column}", f"unknown {column} {value!r}"))
        after, before = case_filter.resolved_after, case_filter.resolved_before
        if after and before and after >= before:
            violations.append(FieldViolation("filter.resolved_after", "must be before filter.resolved_before"))
        if violations:
            raise InvalidArgument.for_fields(violations)


def read_corpus(path: Path) -> list[CaseRecord]:
    """Reads resolved cases from JSONL (keys as in services/retrieval/corpus/starter_cases.jsonl)."""
    cases = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                cases.append(
                    CaseRecord(
                        id=row["id"],
                        complaint=row["complaint"],
                        resolution=row.get("resolution", ""),
                        party=row["party"],
                        category=row.get("category", ""),
                        community=row["community"],
                        building=row.get("building", ""),
                        status=CaseStatus(row.get("status", CaseStatus.RESOLVED.value)),
                        created_at=_timestamp(row.get("created_at")),
                        resolved_at=_timestamp(row.get("resolved_at")),
                    )
                )
            except (KeyError, ValueError, TypeError) as error:
                raise ValueError(f"{path}:{number}: not a case ({error})") from error
    return cases


def _timestamp(value: str | None) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"time {value!r} has no zone offset")
    return moment
