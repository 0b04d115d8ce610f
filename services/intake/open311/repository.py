"""The ticket reads Open311 makes; each takes the caller's session and never commits.

A search filters in SQL — jurisdiction, date range, open/closed and service — and pages there, so its answer is
exact however many tickets the range holds. Its plan rests on the (community, created_at), (status, created_at) and
(catalog_entry, created_at) indexes (migration 0007).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, false, func, not_, or_, select
from sqlalchemy.orm import Session, aliased

from services.intake.tickets.models import Ticket, TicketStatus

CLOSED = (TicketStatus.RESOLVED.value, TicketStatus.CLOSED.value)


@dataclass(frozen=True)
class ServiceTags:
    """How the services asked for are recognised: the `【name】` tags opening the text of a request filed under one
    of them, the tags of every service (a tagged text is that service's, whatever routing chose) and their codes."""

    wanted_tags: tuple[str, ...]
    every_tag: tuple[str, ...]
    codes: frozenset[str]


@dataclass(frozen=True)
class TicketSearch:
    """One page of a search: created in [start, end], in `communities`, open and/or closed, of some services."""

    start: datetime
    end: datetime
    communities: frozenset[str]
    statuses: frozenset[str]  # {"open", "closed"}; empty means both
    services: ServiceTags | None  # None means any service
    offset: int
    limit: int


def tickets_by_ids(ids: Collection[str], communities: Collection[str], *, session: Session) -> list[Ticket]:
    """The tickets among `ids` that exist in `communities`, newest first."""
    statement = (
        select(Ticket)
        .where(Ticket.id.in_(ids), Ticket.community.in_(communities))
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
    )
    return list(session.scalars(statement))


def search_tickets(search: TicketSearch, *, session: Session) -> list[Ticket]:
    """The page of tickets `search` asks for, newest first."""
    return list(session.scalars(search_statement(search)))


def search_statement(search: TicketSearch) -> Select[Ticket]:
    """The SELECT of `search` (also what a test EXPLAINs)."""
    statement = select(Ticket).where(
        Ticket.community.in_(search.communities),
        Ticket.created_at >= search.start,
        Ticket.created_at <= search.end,
    )
    if search.statuses == {"open"} or search.statuses == {"closed"}:
        primary = aliased(Ticket)
        # A merged ticket is answered when the one it joined is.
        closed = or_(
            Ticket.status.in_(CLOSED),
            and_(Ticket.status == TicketStatus.MERGED.value, func.coalesce(primary.status, "").in_(CLOSED)),
        )
        statement = statement.outerjoin(primary, Ticket.primary_id == primary.id).where(
            closed if search.statuses == {"closed"} else not_(closed)
        )
    if search.services is not None:
        statement = statement.where(_of_services(search.services))
    return statement.order_by(Ticket.created_at.desc(), Ticket.id.desc()).offset(search.offset).limit(search.limit)


def _of_services(services: ServiceTags) -> ColumnElement[bool]:
    # The same rule as the request's service_code: the service tag opening the text, else routing's catalog entry.
    tagged = [Ticket.text.startswith(tag, autoescape=True) for tag in services.wanted_tags]
    # Most texts open with no 【: the cheap test first, the tags only for those that do.
    any_tag = and_(
        Ticket.text.startswith("【"),
        or_(*(Ticket.text.startswith(tag, autoescape=True) for tag in services.every_tag), false()),
    )
    routed = and_(Ticket.catalog_entry.in_(services.codes), not_(any_tag))
    return or_(*tagged, routed)
