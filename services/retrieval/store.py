"""The case store: the record of every case and its vector, and the change feed every retrieval replica follows."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import Connection, Engine, bindparam, delete, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from linli.embedding import Vectors
from linli.sql_pool import pinging_engine
from services.retrieval.cases import CaseRecord, CaseStatus
from services.retrieval.store_rows import (
    RECORD_COLUMNS,
    SERVED_COLUMNS,
    Base,
    CaseFacetsRow,
    CaseRow,
    ChangeRow,
    FeedMarkRow,
    FeedPrunedRow,
    add_scrubbed_by,
    record_of,
)

# What a change did to a key: an upsert adds the key (keys are never reused), a delete removes it.
UPSERT, DELETE = "upsert", "delete"
# PostgreSQL advisory lock every writer holds until its commit (see docs/adr/0011): sequence values are taken in
# commit order, so a follower reading `seq > last` never skips a change that commits late.
WRITER_LOCK_ID = 0x6C696E6C69  # "linli"
FEED_BATCH = 1_000


@dataclass(frozen=True)
class PrunedFeed:
    """What one pruning did: `deleted` changes, and every change up to `through` is now gone (0: none ever)."""

    deleted: int
    through: int


@dataclass(frozen=True)
class Change:
    """A change read from the feed."""

    seq: int
    key: int
    op: str


# Built once: every search runs them, and building a statement costs as much as running it.
_RECORDS_BY_KEYS = select(*RECORD_COLUMNS).where(CaseRow.key.in_(bindparam("keys", expanding=True)))
_SERVED_BY_KEYS = select(*SERVED_COLUMNS).where(CaseRow.key.in_(bindparam("keys", expanding=True)))
_LIVE_KEYS = select(CaseRow.key).where(CaseRow.key.in_(bindparam("keys", expanding=True)))
_PRUNED_THROUGH = select(FeedPrunedRow.seq).where(FeedPrunedRow.id == 1)


class CaseStore:
    """Cases and their vectors in a SQL database (SQLite file next to the index by default)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._serialises_writers = engine.dialect.name == "postgresql"
        with engine.begin() as connection:
            # Replicas starting together would race to create the tables: the writer lock makes it one at a time.
            self._lock_writers(connection)
            Base.metadata.create_all(connection)
            add_scrubbed_by(connection)

    @classmethod
    def from_url(cls, url: str) -> CaseStore:
        """Opens (and creates if needed) the store at a SQLAlchemy URL."""
        return cls(pinging_engine(url))

    @property
    def url(self) -> str:
        """Where the store is, password hidden (for logs)."""
        return self._engine.url.render_as_string(hide_password=True)

    def dispose(self) -> None:
        """Closes the store's pooled connections."""
        self._engine.dispose()

    @contextmanager
    def _unit_of_work(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def _write(self) -> Iterator[Session]:
        """A write transaction holding the writer lock (PostgreSQL; SQLite's own write lock does the same)."""
        with self._unit_of_work() as session:
            self._lock_writers(session.connection())
            yield session

    def _lock_writers(self, connection: Connection) -> None:
        if self._serialises_writers:
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": WRITER_LOCK_ID})

    @staticmethod
    def _record(session: Session, keys: Sequence[int], op: str) -> None:
        session.add_all([ChangeRow(key=key, op=op) for key in keys])

    def last_seq(self) -> int:
        """The newest change's sequence number (0 when nothing was ever written), pruned ones included."""
        with self._unit_of_work() as session:
            newest = session.scalar(select(func.max(ChangeRow.seq)))
            return max(int(newest or 0), int(session.scalar(_PRUNED_THROUGH) or 0))

    def pruned_through(self) -> int:
        """Every change up to this seq was pruned from the feed (0 when none was)."""
        with self._unit_of_work() as session:
            return int(session.scalar(_PRUNED_THROUGH) or 0)

    def prune_changes(self, retention: timedelta, now: datetime | None = None) -> PrunedFeed:
        """Deletes the changes older than `retention`, and records through which seq in the same transaction.

        Each call also marks the feed's last seq with the time (under the writers' lock: nothing commits meanwhile).
        The changes up to the newest mark older than `retention` are at least that old: a change goes at the first
        call `retention` after it was written, at most one pruning interval late.
        """
        now = now or datetime.now(UTC)
        with self._write() as session:
            old_enough = select(func.max(FeedMarkRow.seq)).where(FeedMarkRow.at <= now - retention)
            cutoff = int(session.scalar(old_enough) or 0)
            through = int(session.scalar(_PRUNED_THROUGH) or 0)
            deleted = 0
            if cutoff > through:
                deleted = session.connection().execute(delete(ChangeRow).where(ChangeRow.seq <= cutoff)).rowcount
                session.execute(delete(FeedMarkRow).where(FeedMarkRow.seq <= cutoff))
                session.merge(FeedPrunedRow(id=1, seq=cutoff))
                through = cutoff
            last = int(session.scalar(select(func.max(ChangeRow.seq))) or 0)
            if last > through and session.get(FeedMarkRow, last) is None:  # an older mark of it says more
                session.add(FeedMarkRow(seq=last, at=now))
        return PrunedFeed(deleted, through)

    def changes_since(self, seq: int, limit: int = FEED_BATCH) -> list[Change]:
        """Up to `limit` changes after `seq`, oldest first."""
        with self._unit_of_work() as session:
            rows = session.execute(
                select(ChangeRow.seq, ChangeRow.key, ChangeRow.op)
                .where(ChangeRow.seq > seq)
                .order_by(ChangeRow.seq)
                .limit(limit)
            ).all()
        return [Change(row.seq, row.key, row.op) for row in rows]

    def rows_by_keys(self, keys: Sequence[int]) -> dict[int, CaseRow]:
        """Whole stored rows (vector and model included) by key; deleted keys are absent."""
        with self._unit_of_work() as session:
            return {row.key: row for row in session.scalars(select(CaseRow).where(CaseRow.key.in_(keys)))}

    def count(self) -> int:
        """Number of stored cases."""
        with self._unit_of_work() as session:
            return int(session.scalar(select(func.count()).select_from(CaseRow)) or 0)

    def existing(self, case_ids: Sequence[str]) -> dict[str, CaseRecord]:
        """The stored cases among `case_ids`, by id."""
        with self._unit_of_work() as session:
            rows = session.scalars(select(CaseRow).where(CaseRow.case_id.in_(case_ids)))
            return {row.case_id: row.to_record() for row in rows}

    def upsert(
        self,
        cases: Sequence[CaseRecord],
        vectors: Vectors,
        model: str,
        *,
        scrubbed_by: str = "",
        before_commit: Callable[[list[int]], None] = lambda _keys: None,
    ) -> tuple[list[int], list[int]]:
        """Writes cases with their vectors in one transaction, each under a new key; `scrubbed_by` names the
        scrubber that cleaned their texts (linli.pii.scrubber_fingerprint), "" when they were not.

        A replaced case gets a new key rather than keeping its old one: an HNSW graph cannot update a node, so the
        index adds the new key and drops the old one. `before_commit(new_keys)` runs inside the transaction, so the
        index learns a key before any search can see it in the store.

        Returns:
            (new keys in input order, keys of the rows they replaced).
        """
        with self._write() as session:
            replaced = list(
                session.scalars(select(CaseRow.key).where(CaseRow.case_id.in_([case.id for case in cases])))
            )
            session.execute(delete(CaseRow).where(CaseRow.key.in_(replaced)))
            session.flush()
            rows = [
                CaseRow(
                    case_id=case.id,
                    complaint=case.complaint,
                    resolution=case.resolution,
                    party=case.party,
                    category=case.category,
                    community=case.community,
                    building=case.building,
                    status=case.status.value,
                    created_at=case.created_at,
                    resolved_at=case.resolved_at,
                    model=model,
                    vector=np.asarray(vector, dtype=np.float32).tobytes(),
                    scrubbed_by=scrubbed_by,
                )
                for case, vector in zip(cases, vectors, strict=True)
            ]
            session.add_all(rows)
            session.flush()
            keys = [row.key for row in rows]
            # New keys before the replaced ones' deletion: a follower, like this replica, never misses the case.
            self._record(session, keys, UPSERT)
            self._record(session, replaced, DELETE)
            before_commit(keys)
        return keys, replaced

    def delete(self, case_ids: Sequence[str]) -> list[int]:
        """Deletes cases by id; returns the index keys of those that existed."""
        with self._write() as session:
            keys = list(session.scalars(select(CaseRow.key).where(CaseRow.case_id.in_(case_ids))))
            session.execute(delete(CaseRow).where(CaseRow.key.in_(keys)))
            self._record(session, keys, DELETE)
        return keys

    def live_keys(self) -> set[int]:
        """Every stored key, to reconcile a snapshot with the store."""
        with self._unit_of_work() as session:
            return set(session.scalars(select(CaseRow.key)))

    def by_keys(self, keys: Sequence[int]) -> dict[int, CaseRecord]:
        """Cases by index key; deleted keys are absent."""
        # The record's columns only: no ORM objects, and not the vector a search never returns.
        with self._engine.connect() as connection:
            rows = connection.execute(_RECORDS_BY_KEYS, {"keys": list(keys)}).all()
        return {row.key: record_of(row) for row in rows}

    def served_by_keys(self, keys: Sequence[int], scrubber: str) -> tuple[dict[int, CaseRecord], set[int]]:
        """`by_keys`, and which of those cases another scrubber than `scrubber` cleaned (or none did)."""
        with self._engine.connect() as connection:
            rows = connection.execute(_SERVED_BY_KEYS, {"keys": list(keys)}).all()
        return {row.key: record_of(row) for row in rows}, {row.key for row in rows if row.scrubbed_by != scrubber}

    def live_among(self, keys: Sequence[int]) -> set[int]:
        """Which of `keys` are stored now (a search's check that no replica deleted a hit it holds in memory)."""
        with self._engine.connect() as connection:
            return set(connection.scalars(_LIVE_KEYS, {"keys": list(keys)}))

    def iter_facets(self, batch: int = 50_000) -> Iterator[tuple[list[int], list[CaseFacetsRow]]]:
        """Streams (keys, what filters look at) in key order, a batch at a time, to build the filter postings."""
        last = 0
        while True:
            with self._unit_of_work() as session:
                rows = session.execute(
                    select(CaseRow.key, CaseRow.community, CaseRow.party, CaseRow.status, CaseRow.resolved_at)
                    .where(CaseRow.key > last)
                    .order_by(CaseRow.key)
                    .limit(batch)
                ).all()
            if not rows:
                return
            keys = [row.key for row in rows]
            yield (
                keys,
                [CaseFacetsRow(row.community, row.party, CaseStatus(row.status), row.resolved_at) for row in rows],
            )
            last = keys[-1]

    def iter_vectors(self, batch: int = 10_000, *, above: int = 0) -> Iterator[tuple[list[int], Vectors, list[str]]]:
        """Streams (keys, vectors, models) of keys greater than `above`, in key order, a batch at a time."""
        last = above
        while True:
            with self._unit_of_work() as session:
                rows = session.execute(
                    select(CaseRow.key, CaseRow.vector, CaseRow.model)
                    .where(CaseRow.key > last)
                    .order_by(CaseRow.key)
                    .limit(batch)
                ).all()
            if not rows:
                return
            keys = [row.key for row in rows]
            vectors = np.stack([np.frombuffer(row.vector, dtype=np.float32) for row in rows])
            yield keys, vectors, [row.model for row in rows]
            last = keys[-1]

    def texts(self, keys: Sequence[int]) -> list[str]:
        """Complaint texts by key, in the given order, to re-embed after a model change."""
        by_key = self.by_keys(keys)
        return [by_key[key].complaint for key in keys]

    def replace_vectors(self, keys: Sequence[int], vectors: Vectors, model: str) -> None:
        """Stores new vectors for existing cases (after a model change); keys stay, the index is rebuilt.

        Not in the change feed: a replica only follows rows of its own model (docs/adr/0011, model changes).
        """
        with self._write() as session:
            for key, vector in zip(keys, vectors, strict=True):
                row = session.get_one(CaseRow, key)
                row.vector, row.model = np.asarray(vector, dtype=np.float32).tobytes(), model
