"""The duplicate search's queries: the open tickets a new one may duplicate, their vectors and texts, and the lock
that serialises the search within a community. Functions take a keyword-only session and never commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, bindparam, or_, select, text
from sqlalchemy.orm import Session

from services.intake.tickets.models import OPEN_STATUSES, Ticket

_OPEN = [status.value for status in OPEN_STATUSES]
_COMMUNITY_LOCK = text("SELECT pg_advisory_xact_lock(hashtext(:key))")


def lock_community(community: str, *, session: Session) -> None:
    """Serialises duplicate detection within a community on PostgreSQL (SQLite serialises all writers anyway)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_COMMUNITY_LOCK, {"key": f"linli:dup:{community}"})


@dataclass(frozen=True)
class DuplicateCandidate:
    """Just what the place and distance checks read of an open ticket similar enough to be a duplicate."""

    id: str
    text: str
    # The point the resident attached (WGS-84 degrees), or None.
    latitude: float | None = None
    longitude: float | None = None


def duplicate_candidate_ids(ticket: Ticket, *, since: datetime, session: Session) -> list[str]:
    """Ids of the open, unmerged tickets of the same community (and building where both name one) with an embedding
    of the same model, created since `since`, oldest first; for a ticket split off from another, neither that one
    nor the others split off from it.

    Only the ids: a triage compares its vector with every open ticket's, and loading their texts and vectors again
    for each one made triage slow down as open tickets piled up (docs/reliability.md); the vectors never change
    once stored (duplicates.VectorCache keeps them), the texts are read for the few similar enough."""
    statement = _CANDIDATE_IDS[(bool(ticket.building), bool(ticket.split_from_id))]
    parameters = {
        "community": ticket.community,
        "ticket_id": ticket.id,
        "model": ticket.embedding_model,
        "since": since,
        "building": ticket.building,
        "split_from_id": ticket.split_from_id,
    }
    # On the connection: thousands of ids need no ORM rows (nor an autoflush of the triaged ticket first).
    return list(session.connection().execute(statement, parameters).scalars().all())


def _candidate_ids(*, in_building: bool, split_off: bool) -> Select[str]:
    statement = (
        select(Ticket.id)
        .where(
            Ticket.community == bindparam("community"),
            Ticket.id != bindparam("ticket_id"),
            Ticket.status.in_(_OPEN),
            Ticket.primary_id.is_(None),
            Ticket.embedding.is_not(None),
            Ticket.embedding_model == bindparam("model"),
            Ticket.created_at >= bindparam("since"),
        )
        .order_by(Ticket.created_at, Ticket.id)
    )
    if in_building:
        statement = statement.where(or_(Ticket.building == bindparam("building"), Ticket.building == ""))
    if split_off:
        # Split off from a message because it is another problem: its words are in that message, and in nothing
        # else split off from it, yet it duplicates neither.
        statement = statement.where(
            Ticket.id != bindparam("split_from_id"),
            or_(Ticket.split_from_id.is_(None), Ticket.split_from_id != bindparam("split_from_id")),
        )
    return statement


# By whether the ticket names a building and whether it was split off from another.
_CANDIDATE_IDS = {
    (in_building, split_off): _candidate_ids(in_building=in_building, split_off=split_off)
    for in_building in (False, True)
    for split_off in (False, True)
}


def embeddings(ids: Sequence[str], *, session: Session) -> dict[str, tuple[bytes, str]]:
    """The stored vector and its model of each ticket of `ids` that has one."""
    if not ids:
        return {}
    statement = select(Ticket.id, Ticket.embedding, Ticket.embedding_model).where(
        Ticket.id.in_(ids), Ticket.embedding.is_not(None)
    )
    return {row.id: (row.embedding, row.embedding_model) for row in session.connection().execute(statement)}


def duplicate_candidates(ids: Sequence[str], *, session: Session) -> dict[str, DuplicateCandidate]:
    """Text and point of each ticket of `ids`."""
    if not ids:
        return {}
    statement = select(Ticket.id, Ticket.text, Ticket.latitude, Ticket.longitude).where(Ticket.id.in_(ids))
    return {
        row.id: DuplicateCandidate(row.id, row.text, row.latitude, row.longitude) for row in session.execute(statement)
    }
