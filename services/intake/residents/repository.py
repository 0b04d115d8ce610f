"""The ticket reads erasure and retention make; each takes the caller's session, locks what it returns and never
commits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.intake.tickets.models import ERASED_RESIDENT_PREFIX, Ticket, TicketStatus


def tickets_of(resident_id: str, *, session: Session) -> list[Ticket]:
    """Every ticket `resident_id` filed, oldest first, locked for update."""
    statement = select(Ticket).where(Ticket.resident_id == resident_id).order_by(Ticket.created_at, Ticket.id)
    return list(session.scalars(statement.with_for_update()))


def closed_not_anonymized(cutoff: datetime, *, limit: int, session: Session) -> list[Ticket]:
    """Up to `limit` closed tickets last changed at or before `cutoff` whose resident was not erased yet, oldest
    change first; locked, skipping rows another sweep holds."""
    statement = (
        select(Ticket)
        .where(
            Ticket.status == TicketStatus.CLOSED.value,
            Ticket.updated_at <= cutoff,
            Ticket.resident_id.not_like(f"{ERASED_RESIDENT_PREFIX}%"),
        )
        .order_by(Ticket.updated_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(statement))
