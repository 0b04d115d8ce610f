"""A large case store for benchmarks: the packaged resolved cases and synthetic variations of them.

Embedding 100,000 texts would take this machine the better part of an hour, so only the packaged corpus (1,275 cases)
is embedded, by the backend the stack will run; every further case is a variation of one of them: another community
and building, an earlier date, 10 % still open, and the original's vector jittered by isotropic noise to a cosine of
about 0.93 with it (closer than a typical 10th neighbour, 0.82, further than a resent duplicate). The cases are
written with that backend's model name into the SQLite store retrieval opens in its index folder, so the service
builds its index from them at start exactly as from cases it learned, and seeds nothing more.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import numpy as np

from linli.embedding import Vectors, create_embedder
from linli.pii import scrubber_fingerprint
from services.retrieval.cases import CaseRecord, CaseStatus, read_corpus
from services.retrieval.served_cases import without_personal_data
from services.retrieval.settings import RetrievalSettings
from services.retrieval.store import CaseStore

PACKAGED_CORPUS = Path(__file__).resolve().parents[1] / "services" / "retrieval" / "corpus" / "resolved_cases.jsonl"
JITTER_COSINE = 0.93
OPEN_SHARE = 0.1
WRITE_BATCH = 5_000


def variation(case: CaseRecord, number: int, communities: list[str], rng: np.random.Generator) -> CaseRecord:
    """The `number`-th synthetic variation of a packaged case (0: the case itself)."""
    if number == 0:
        return case
    open_case = rng.random() < OPEN_SHARE
    created = case.created_at - timedelta(days=number) if case.created_at else None
    return replace(
        case,
        id=f"{case.id}-v{number}",
        community=communities[int(rng.integers(len(communities)))],
        building=f"{int(rng.integers(1, 60))}号楼",
        status=CaseStatus.OPEN if open_case else CaseStatus.RESOLVED,
        created_at=created,
        resolved_at=None if open_case or created is None else created + timedelta(days=2),
    )


def jittered(vectors: Vectors, rng: np.random.Generator) -> Vectors:
    """Unit vectors at about JITTER_COSINE from the given unit vectors."""
    dimension = vectors.shape[1]
    sigma = np.sqrt((1 / JITTER_COSINE**2 - 1) / dimension)
    noisy = vectors + rng.standard_normal(vectors.shape, dtype=np.float32) * np.float32(sigma)
    unit: Vectors = (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)
    return unit


def fill_case_store(index_dir: Path, count: int, *, backend: str, communities: list[str], seed: int = 2024) -> int:
    """Writes `count` cases (the packaged ones first) into the SQLite case store of `index_dir`; returns the count."""
    base = read_corpus(PACKAGED_CORPUS)
    embedder = create_embedder(RetrievalSettings(embedding_backend=backend).embedder_config())
    base_vectors = np.concatenate(
        [embedder.embed([case.complaint for case in base[start : start + 64]]) for start in range(0, len(base), 64)]
    )
    index_dir.mkdir(parents=True, exist_ok=True)
    store = CaseStore.from_url(f"sqlite:///{index_dir / 'cases.sqlite'}")
    rng = np.random.default_rng(seed)
    try:
        for start in range(0, count, WRITE_BATCH):
            numbers = np.arange(start, min(start + WRITE_BATCH, count))
            rows, variants = numbers % len(base), numbers // len(base)
            cases = [variation(base[r], int(v), communities, rng) for r, v in zip(rows, variants, strict=True)]
            vectors = np.where((variants == 0)[:, None], base_vectors[rows], jittered(base_vectors[rows], rng))
            # Scrubbed as retrieval's UpsertCases stores a case, and marked so: a search serves them as stored.
            cleaned = [without_personal_data(case) for case in cases]
            store.upsert(cleaned, vectors.astype(np.float32), embedder.model_name, scrubbed_by=scrubber_fingerprint())
    finally:
        store.dispose()
    return count
