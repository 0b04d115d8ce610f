"""The ticket reads Open311 makes; each takes the caller's session and never commits."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.intake.tickets.models import Ticket


def tickets_by_ids(ids: Collection[str], *, session: Session) -> list[Ticket]:
    """The tickets among `ids` that exist, newest first."""
    statement = select(Ticket).where(Ticket.id.in_(ids)).order_by(Ticket.created_at.desc(), Ticket.id.desc())
    return list(session.scalars(statement))


def tickets_created_between(start: datetime, end: datetime, *, limit: int, session: Session) -> list[Ticket]:
    """Up to `limit` tickets created in [start, end], newest first."""
    statement = (
        select(Ticket)
        .where(Ticket.created_at >= start, Ticket.created_at <= end)
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
        .limit(limit)
    )
    return list(session.scalars(statement))
