"""Data access for the inbox: one set's page by keyset (cursor), its count, who acted for a party, saved views.

Functions take a keyword-only session and never commit (the unit of work does).
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, delete, false, func, or_, select
from sqlalchemy.orm import Session, lazyload

from services.intake.inbox.models import SET_STATUSES, InboxQuery, InboxSet, InboxSort, MalformedRequest, SavedView
from services.intake.tickets.models import Ticket, TicketEvent, TicketStatus

# The order of each sort; the id breaks ties, so a cursor (and an export) is a total order.
ORDER = {
    InboxSort.DEADLINE: (Ticket.sla_due_at.asc().nulls_last(), Ticket.id.asc()),
    InboxSort.PRIORITY: (Ticket.priority.desc(), Ticket.sla_due_at.asc().nulls_last(), Ticket.id.asc()),
    InboxSort.NEWEST: (Ticket.created_at.desc(), Ticket.id.desc()),
}


def view_conditions(query: InboxQuery) -> list[ColumnElement[bool]]:
    """The set within the caller's scope, narrowed by the filters: what the page and the count share."""
    scope, filters = query.scope, query.filters
    statuses = [status.value for status in SET_STATUSES[query.inbox_set]]
    mine = Ticket.party == scope.party
    if scope.with_manual_queue:
        mine = or_(mine, Ticket.status == TicketStatus.NEEDS_MANUAL.value)
    conditions: list[ColumnElement[bool]] = [Ticket.status.in_(statuses), mine]
    if scope.community:
        conditions.append(Ticket.community == scope.community)
    elif scope.communities is not None:
        conditions.append(Ticket.community.in_(scope.communities) if scope.communities else false())
    if query.inbox_set is InboxSet.MINE:
        conditions.append(Ticket.assignee_worker_id == query.worker_id)
    elif query.inbox_set is InboxSet.UNASSIGNED:
        conditions.append(Ticket.assignee_worker_id == "")
    elif query.inbox_set is InboxSet.OVERDUE:
        conditions.extend([Ticket.sla_due_at.is_not(None), Ticket.sla_due_at < query.now])
    for column, value in (
        (Ticket.escalation_level, filters.escalation_level),
        (Ticket.urgency, filters.urgency),
        (Ticket.catalog_entry, filters.catalog_entry),
        (Ticket.building, filters.building),
    ):
        if value:
            conditions.append(column == value)
    return conditions


def page_statement(query: InboxQuery) -> Select[Ticket]:
    """The SELECT of one page (one row more than the page, to tell whether another follows)."""
    statement = select(Ticket).where(*view_conditions(query)).order_by(*ORDER[query.sort])
    if query.page_token:
        statement = statement.where(_after(query.sort, decode_token(query.page_token, query.sort)))
    # The page shows no histories: not loading them keeps a page at one query (plus its views' two).
    return statement.options(lazyload(Ticket.events)).limit(query.page_size + 1)


def page(query: InboxQuery, *, session: Session) -> tuple[list[Ticket], str]:
    """One page of the set in its order and the token of the next page ('' on the last)."""
    tickets = list(session.scalars(page_statement(query)))
    if len(tickets) <= query.page_size:
        return tickets, ""
    tickets = tickets[: query.page_size]
    return tickets, encode_token(query.sort, tickets[-1])


def count(query: InboxQuery, *, session: Session) -> int:
    """How many tickets the whole set holds (the same conditions, no cursor)."""
    return int(session.scalar(select(func.count()).select_from(Ticket).where(*view_conditions(query))) or 0)


def _after_deadline(due: datetime | None, ticket_id: str) -> ColumnElement[bool]:
    # Ascending deadline, tickets without one last, the id breaking ties.
    if due is None:
        return and_(Ticket.sla_due_at.is_(None), Ticket.id > ticket_id)
    return or_(
        Ticket.sla_due_at > due,
        and_(Ticket.sla_due_at == due, Ticket.id > ticket_id),
        Ticket.sla_due_at.is_(None),
    )


def _after(sort: InboxSort, key: dict[str, Any]) -> ColumnElement[bool]:
    ticket_id = str(key["id"])
    if sort is InboxSort.NEWEST:
        created = key["at"]
        return or_(Ticket.created_at < created, and_(Ticket.created_at == created, Ticket.id < ticket_id))
    after_deadline = _after_deadline(key["at"], ticket_id)
    if sort is InboxSort.DEADLINE:
        return after_deadline
    priority = int(key["priority"])
    return or_(Ticket.priority < priority, and_(Ticket.priority == priority, after_deadline))


def encode_token(sort: InboxSort, last: Ticket) -> str:
    """An opaque cursor: the sort, and the last ticket's key in it (its deadline or age, priority and id)."""
    at = last.created_at if sort is InboxSort.NEWEST else last.sla_due_at
    key = {"sort": sort.value, "at": at.isoformat() if at else None, "priority": last.priority, "id": last.id}
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_token(token: str, sort: InboxSort) -> dict[str, Any]:
    """The key a token carries; MalformedRequest for anything but a token of this sort's pages."""
    try:
        raw = base64.urlsafe_b64decode(token.encode("ascii") + b"=" * (-len(token) % 4))
        key = json.loads(raw.decode())
        if not isinstance(key, dict) or not isinstance(key.get("id"), str) or not isinstance(key.get("priority"), int):
            raise ValueError("not a cursor")
        at = key.get("at")
        key["at"] = datetime.fromisoformat(at) if isinstance(at, str) else None
        if key["at"] is not None and key["at"].tzinfo is None:
            raise ValueError("a cursor's time has its offset")
        if at is not None and not isinstance(at, str):
            raise ValueError("not a cursor")
    except (binascii.Error, UnicodeError, ValueError) as error:
        raise MalformedRequest.for_field("page_token", "not a token from a previous page") from error
    if key.get("sort") != sort.value:
        raise MalformedRequest.for_field("page_token", f"is a token of another order than {sort.value}")
    if sort is InboxSort.NEWEST and key["at"] is None:
        raise MalformedRequest.for_field("page_token", "not a token from a previous page")
    return key


def acted_for(actor: str, *, session: Session) -> list[tuple[str, str]]:
    """(party, community) of every ticket `actor` acted on for a party, each pair once."""
    statement = (
        select(TicketEvent.party, Ticket.community)
        .join(Ticket, Ticket.id == TicketEvent.ticket_id)
        .where(TicketEvent.actor == actor, TicketEvent.party != "")
        .distinct()
    )
    return [(str(party), str(community)) for party, community in session.execute(statement)]


def views_of(worker_id: str, *, session: Session) -> list[SavedView]:
    """A worker's saved views, oldest first."""
    statement = select(SavedView).where(SavedView.worker_id == worker_id).order_by(SavedView.created_at, SavedView.id)
    return list(session.scalars(statement))


def view_count(worker_id: str, *, session: Session) -> int:
    """How many views a worker saved."""
    statement = select(func.count()).select_from(SavedView).where(SavedView.worker_id == worker_id)
    return int(session.scalar(statement) or 0)


def add_view(view: SavedView, *, session: Session) -> SavedView:
    """Stages a saved view."""
    session.add(view)
    session.flush()
    return view


def delete_view(view_id: str, worker_id: str, *, session: Session) -> bool:
    """Deletes the worker's own view; False when they have none with this id."""
    result = session.execute(delete(SavedView).where(SavedView.id == view_id, SavedView.worker_id == worker_id))
    return bool(getattr(result, "rowcount", 0))
