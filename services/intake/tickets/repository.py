"""Data access for tickets: functions take a keyword-only session and never commit (the unit of work does)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from linli.errors import InvalidArgument, NotFound
from services.intake.tickets.models import Ticket, TicketEvent, TicketStatus


@dataclass(frozen=True)
class TicketQuery:
    """Filters and page of a ticket listing; None means no restriction."""

    community: str | None = None
    party: str | None = None
    status: TicketStatus | None = None
    resident_id: str | None = None
    page_size: int = 20
    page_token: str = ""


def add(ticket: Ticket, *, session: Session) -> Ticket:
    """Stages a new ticket (and its events) for insertion."""
    session.add(ticket)
    session.flush()
    return ticket


def get(ticket_id: str, *, session: Session, for_update: bool = False) -> Ticket:
    """The ticket with this id; raises NotFound. `for_update` locks the row on databases that can."""
    query = select(Ticket).where(Ticket.id == ticket_id)
    if for_update:
        query = query.with_for_update()
    ticket = session.scalars(query).one_or_none()
    if ticket is None:
        raise NotFound(f"no ticket {ticket_id!r}")
    return ticket


def by_idempotency_key(key: str, *, session: Session) -> Ticket | None:
    """The ticket an earlier submit with this key created, if any."""
    return session.scalars(select(Ticket).where(Ticket.idempotency_key == key)).one_or_none()


def add_event(ticket: Ticket, event: TicketEvent, *, session: Session) -> None:
    """Appends an event to a ticket's history and bumps its update time."""
    ticket.events.append(event)
    ticket.updated_at = event.at
    session.flush()


def list_page(query: TicketQuery, *, session: Session) -> tuple[list[Ticket], str]:
    """One page of tickets, newest first, and the token of the next page ('' on the last)."""
    statement = select(Ticket).order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(query.page_size + 1)
    if query.community:
        statement = statement.where(Ticket.community == query.community)
    if query.party:
        statement = statement.where(Ticket.party == query.party)
    if query.status:
        statement = statement.where(Ticket.status == query.status.value)
    if query.resident_id:
        statement = statement.where(Ticket.resident_id == query.resident_id)
    if query.page_token:
        created_at, ticket_id = _decode_token(query.page_token)
        statement = statement.where(
            or_(Ticket.created_at < created_at, and_(Ticket.created_at == created_at, Ticket.id < ticket_id))
        )
    tickets = list(session.scalars(statement))
    if len(tickets) <= query.page_size:
        return tickets, ""
    tickets = tickets[: query.page_size]
    return tickets, _encode_token(tickets[-1])


def _encode_token(last: Ticket) -> str:
    raw = f"{last.created_at.isoformat()}|{last.id}".encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_token(token: str) -> tuple[datetime, str]:
    try:
        created_at, ticket_id = base64.urlsafe_b64decode(token.encode()).decode().split("|", 1)
        return datetime.fromisoformat(created_at), ticket_id
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise InvalidArgument.for_field("page_token", "not a token from a previous page") from error
