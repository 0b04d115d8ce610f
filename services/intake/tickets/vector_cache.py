"""Open tickets' stored vectors, kept in one matrix per process: duplicate detection reads each from the database once.

Safe to keep: a ticket's vector is written once, when it is triaged, and only ever erased after that (anonymization);
which tickets are candidates (open, unmerged, same model, in the window: status, merges and erasure included) is asked
of the database at every triage, and only their vectors come from here. Bounded: past `capacity` rows the oldest
make way, and are read again if still wanted. Shared by the worker's threads.
"""

from __future__ import annotations

import threading

import numpy as np
import numpy.typing as npt
from sqlalchemy.orm import Session

from services.intake.tickets import duplicate_queries

Vector = npt.NDArray[np.float32]
Positions = npt.NDArray[np.intp]
# Enough for the open tickets of a busy district within the window: 40 MB at 512 dimensions, taken as it fills.
VECTOR_CACHE_ROWS = 20_000
_FIRST_ROWS = 1024


class VectorCache:
    """Vectors (rows of a matrix) and their norms by model and ticket id, reused round-robin once full."""

    def __init__(self, capacity: int = VECTOR_CACHE_ROWS) -> None:
        self._capacity = capacity
        self._lock = threading.Lock()
        self._clear(0)

    def __len__(self) -> int:
        return sum(len(slots) for slots in self._slots.values())

    def rows(self, ids: list[str], model: str, size: int, *, session: Session) -> tuple[Positions, Vector, Vector]:
        """Of the tickets `ids`, the positions of those with a stored `size`-long vector of `model` (ascending),
        these vectors as the rows of a matrix, and their norms; reads the vectors not kept yet from the database."""
        with self._lock:  # copies of the kept rows: another thread may give their rows to other vectors next
            if size != self._size:
                self._clear(size)  # another model's space: nothing kept is comparable any more
            slots = self._slots.setdefault(model, {})
            rows = np.fromiter([slots.get(ticket_id, -1) for ticket_id in ids], dtype=np.intp, count=len(ids))
            positions = np.flatnonzero(rows >= 0)
            matrix, norms = self._matrix[rows[positions]], self._norms[rows[positions]]
        if len(positions) == len(ids):
            return positions, matrix, norms
        # Read outside the lock: the other threads go on with what is kept.
        missing = np.flatnonzero(rows < 0)
        stored = duplicate_queries.embeddings([ids[position] for position in missing], session=session)
        read: dict[int, Vector] = {}
        for position in missing:
            data, stored_model = stored.get(ids[position], (b"", ""))
            if stored_model == model and len(data) == size * 4:  # same model, so same size; be sure
                read[int(position)] = np.frombuffer(data, dtype="<f4").astype(np.float32)
        with self._lock:
            if size == self._size:
                for read_position, vector in read.items():
                    self._put(model, ids[read_position], vector)
        if not read:
            return positions, matrix, norms
        added = np.stack(list(read.values()))
        every = np.concatenate([positions, np.fromiter(read, dtype=np.intp, count=len(read))])
        order = np.argsort(every, kind="stable")
        return (
            every[order],
            np.concatenate([matrix, added])[order],
            np.concatenate([norms, np.linalg.norm(added, axis=1).astype(np.float32)])[order],
        )

    def remember(self, ticket_id: str, model: str, vector: Vector) -> None:
        """Keeps a vector just stored (call it once its transaction committed)."""
        with self._lock:
            if not self._size:
                self._clear(vector.shape[0])
            if vector.shape[0] == self._size:
                self._put(model, ticket_id, np.asarray(vector, dtype=np.float32))

    def _clear(self, size: int) -> None:
        self._size = size
        self._matrix: Vector = np.zeros((0, size), dtype=np.float32)
        self._norms: Vector = np.zeros(0, dtype=np.float32)
        self._owners: list[tuple[str, str]] = []  # (model, ticket id) of each row
        self._slots: dict[str, dict[str, int]] = {}
        self._next = 0  # the row the next vector takes once the matrix is full

    def _put(self, model: str, ticket_id: str, vector: Vector) -> None:
        slots = self._slots.setdefault(model, {})
        if ticket_id in slots:
            row = slots[ticket_id]
        elif len(self._owners) < self._capacity:
            row = len(self._owners)
            self._owners.append((model, ticket_id))
            if row >= len(self._matrix):
                self._grow(min(max(_FIRST_ROWS, 2 * len(self._matrix)), self._capacity))
        else:  # full: the oldest row makes way
            row, self._next = self._next, (self._next + 1) % self._capacity
            old_model, old_id = self._owners[row]
            del self._slots[old_model][old_id]
            self._owners[row] = (model, ticket_id)
        slots[ticket_id] = row
        self._matrix[row] = vector
        self._norms[row] = np.linalg.norm(vector)

    def _grow(self, rows: int) -> None:
        matrix = np.zeros((rows, self._size), dtype=np.float32)
        norms = np.zeros(rows, dtype=np.float32)
        matrix[: len(self._matrix)] = self._matrix
        norms[: len(self._norms)] = self._norms
        self._matrix, self._norms = matrix, norms
