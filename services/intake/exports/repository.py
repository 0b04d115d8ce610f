"""The tickets of an export: counted first (the cap), then read in batches in the listing's or the inbox view's
order."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session

from services.intake.inbox import repository as inbox
from services.intake.inbox.models import InboxQuery
from services.intake.tickets.models import Ticket
from services.intake.tickets.repository import TicketQuery, filtered

BATCH_ROWS = 1_000  # rows fetched at a time: memory stays flat however long the export


def count_tickets(query: TicketQuery, *, session: Session) -> int:
    """How many tickets the query's filters select."""
    return int(session.scalar(filtered(select(func.count()).select_from(Ticket), query)) or 0)


# What an export shows of a ticket: no resident id, no attachment links, no coordinates.
EXPORTED = (
    Ticket.id,
    Ticket.created_at,
    Ticket.community,
    Ticket.building,
    Ticket.status,
    Ticket.party,
    Ticket.urgency,
    Ticket.sla_due_at,
    Ticket.accept_seconds,
    Ticket.resolved_at,
    Ticket.rating,
    Ticket.text,
    Ticket.resolution,
)


def stream_tickets(query: TicketQuery, *, session: Session, limit: int) -> Iterator[Row[*tuple[Any, ...]]]:
    """At most `limit` tickets of the query's filters (the EXPORTED columns only), newest first, fetched in
    batches: memory stays flat however long the export."""
    statement = (
        filtered(select(*EXPORTED), query)
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
        .limit(limit)
        .execution_options(yield_per=BATCH_ROWS)
    )
    yield from session.execute(statement)


def count_inbox(query: InboxQuery, *, session: Session) -> int:
    """How many tickets an inbox view holds (its whole set, every page)."""
    return inbox.count(query, session=session)


def stream_inbox(query: InboxQuery, *, session: Session, limit: int) -> Iterator[Row[*tuple[Any, ...]]]:
    """At most `limit` tickets of an inbox view (the EXPORTED columns only) in the view's order: the conditions and
    order of its pages, without the cursor; fetched in batches."""
    statement = (
        select(*EXPORTED)
        .where(*inbox.view_conditions(query))
        .order_by(*inbox.ORDER[query.sort])
        .limit(limit)
        .execution_options(yield_per=BATCH_ROWS)
    )
    yield from session.execute(statement)
