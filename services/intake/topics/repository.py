"""The ticket reads hot topics make; each takes the caller's session and never commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from services.intake.tickets.models import Ticket


def report_times(community: str, start: datetime, end: datetime, *, session: Session) -> list[datetime]:
    """When each of `community`'s tickets created in [start, end) was reported."""
    statement = select(Ticket.created_at).where(
        Ticket.community == community, Ticket.created_at >= start, Ticket.created_at < end
    )
    return list(session.scalars(statement))


def reports_between(community: str, start: datetime, end: datetime, *, session: Session) -> Sequence[Row[Any]]:
    """`community`'s tickets created in [start, end), with what classifying them needs (id, created_at,
    catalog_entry, text, routing, resident_id, primary_id)."""
    statement = select(
        Ticket.id,
        Ticket.created_at,
        Ticket.catalog_entry,
        Ticket.text,
        Ticket.routing,
        Ticket.resident_id,
        Ticket.primary_id,
    ).where(Ticket.community == community, Ticket.created_at >= start, Ticket.created_at < end)
    return session.execute(statement).all()


def split_entries(origins: list[str], *, session: Session) -> dict[str, set[str]]:
    """The catalog entries of the tickets split off each of `origins` (一单多事), by origin id."""
    entries: dict[str, set[str]] = {}
    if origins:
        splits = select(Ticket.split_from_id, Ticket.catalog_entry).where(Ticket.split_from_id.in_(origins))
        for origin, entry in session.execute(splits):
            entries.setdefault(origin or "", set()).add(entry or "")
    return entries
