"""Fakes for the parts a unit test does not need for real: the triage queue and a fixed clock."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt


class RecordingQueue:
    """A triage queue that records what it was asked to queue, and can be made to fail like a dead broker."""

    def __init__(self, *, broken: bool = False) -> None:
        self.queued: list[str] = []
        self.broken = broken

    def enqueue(self, ticket_id: str) -> None:
        if self.broken:
            raise ConnectionError("broker down")
        self.queued.append(ticket_id)


class StepClock:
    """A clock that moves one second each time it is read, so event order is unambiguous."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


class HashEmbedder:
    """Deterministic unit vectors from a text's hash: fast stand-in where the test is about the index, not meaning."""

    def __init__(self, dimension: int = 32, name: str = "hash-embedder") -> None:
        self._dimension = dimension
        self._name = name

    @property
    def model_name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension

    def embed(self, texts: list[str]) -> npt.NDArray[np.float32]:
        rows = []
        for text in texts:
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
            row = np.random.default_rng(seed).standard_normal(self._dimension).astype(np.float32)
            rows.append(row / np.linalg.norm(row))
        return np.stack(rows) if rows else np.zeros((0, self._dimension), dtype=np.float32)
