"""The open tickets' vectors duplicate detection keeps: read once, bounded, and never a reason to merge by itself."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from services.intake.database import Database
from services.intake.tickets import duplicate_queries
from services.intake.tickets.models import Ticket
from services.intake.tickets.validation import Submission
from services.intake.tickets.vector_cache import VectorCache
from services.intake.triage.flows import TriageFlows, TriageOutcome
from tests.unit.intake.fakes import Intake, decision, embedding

# Provides the `ticket_database` fixture (SQLite and PostgreSQL).
pytest_plugins = ["tests.unit.intake.database"]

LIGHT = "3号楼楼道灯坏了,晚上很黑"
LIGHT_VECTOR = embedding(1.0, 0.0, 0.0)
NEAR = embedding(1.0, 0.1, 0.0)


class ReadCounter:
    """Counts the vectors duplicate detection reads from the database."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.read: list[str] = []
        real = duplicate_queries.embeddings

        def counting(ids: Sequence[str], *, session: Session) -> dict[str, tuple[bytes, str]]:
            self.read.extend(ids)
            return real(ids, session=session)

        monkeypatch.setattr(duplicate_queries, "embeddings", counting)


def triage(intake: Intake, flows: TriageFlows, resident: str, vector: object, building: str = "") -> tuple[str, str]:
    submission = Submission(text=LIGHT, community="恒康居民区", resident_id=resident, building=building)
    ticket_id = intake.flows.submit(submission)[0].ticket.id
    return ticket_id, flows.record_triage(ticket_id, decision(), vector)  # type: ignore[arg-type]


def test_a_vector_triage_stored_is_never_read_back(ticket_database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    intake, counter = Intake(ticket_database), ReadCounter(monkeypatch)
    triage(intake, intake.triage, "r-1", embedding(0.0, 1.0, 0.0), building="1号楼")
    triage(intake, intake.triage, "r-2", embedding(0.0, 0.0, 1.0), building="1号楼")
    assert triage(intake, intake.triage, "r-3", NEAR, building="1号楼")[1] is TriageOutcome.ROUTED
    assert counter.read == []  # both were kept when their triage committed


def test_another_process_reads_each_vector_once(ticket_database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    intake = Intake(ticket_database)
    primary, _ = triage(intake, intake.triage, "r-1", LIGHT_VECTOR)
    other_worker = TriageFlows(intake.context)  # a fresh process: nothing kept
    counter = ReadCounter(monkeypatch)
    assert triage(intake, other_worker, "r-2", NEAR)[1] is TriageOutcome.MERGED
    assert counter.read == [primary]
    triage(intake, other_worker, "r-3", embedding(0.0, 1.0, 0.0))
    assert counter.read == [primary]


def test_an_erased_vector_kept_in_memory_merges_nothing(ticket_database: Database) -> None:
    intake = Intake(ticket_database)
    first, _ = triage(intake, intake.triage, "r-1", LIGHT_VECTOR)
    with ticket_database.unit_of_work() as session:  # what anonymization does to a ticket
        session.execute(update(Ticket).where(Ticket.id == first).values(embedding=None, embedding_model=""))
    assert triage(intake, intake.triage, "r-2", NEAR)[1] is TriageOutcome.ROUTED


def test_the_cache_is_bounded_and_reads_again_what_it_let_go(
    ticket_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    intake = Intake(ticket_database)
    cache = VectorCache(capacity=2)
    flows = TriageFlows(intake.context, cache)
    primary, _ = triage(intake, flows, "r-1", LIGHT_VECTOR)
    triage(intake, flows, "r-2", embedding(0.0, 1.0, 0.0))
    triage(intake, flows, "r-3", embedding(0.0, 0.0, 1.0))  # the first one's row makes way
    counter = ReadCounter(monkeypatch)
    assert triage(intake, flows, "r-4", NEAR)[1] is TriageOutcome.MERGED
    assert counter.read == [primary]
    assert len(cache) == 2


def test_rows_are_those_of_the_model_and_size_asked(sqlite_ticket_database: Database) -> None:
    cache = VectorCache()
    cache.remember("a", "m3e-small", np.array([1.0, 0.0, 0.0], dtype=np.float32))
    cache.remember("b", "bge-small", np.array([0.0, 2.0, 0.0], dtype=np.float32))
    with sqlite_ticket_database.unit_of_work() as session:
        positions, matrix, norms = cache.rows(["x", "b", "a"], "m3e-small", 3, session=session)
        assert (list(positions), matrix.tolist(), norms.tolist()) == ([2], [[1.0, 0.0, 0.0]], [1.0])
        assert list(cache.rows(["a"], "m3e-small", 4, session=session)[0]) == []  # another space: all forgotten
    assert len(cache) == 0


def test_every_candidate_counts_even_past_the_bound(ticket_database: Database) -> None:
    intake = Intake(ticket_database)
    vectors = [embedding(1.0, 0.0, 0.0), embedding(0.0, 1.0, 0.0), embedding(0.0, 0.0, 1.0)]
    ids = [triage(intake, intake.triage, f"r-{n}", vector)[0] for n, vector in enumerate(vectors)]
    cache = VectorCache(capacity=1)
    cache.remember(ids[1], "m3e-small", vectors[1].vector)
    with ticket_database.unit_of_work() as session:
        positions, matrix, norms = cache.rows(ids, "m3e-small", 3, session=session)
    assert list(positions) == [0, 1, 2]  # oldest first, kept or read, though only one stays kept
    assert np.allclose(matrix, [v.vector for v in vectors])
    assert np.allclose(norms, 1.0)
    assert len(cache) == 1
