"""Data access for tickets: functions take a keyword-only session and never commit (the unit of work does)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, bindparam, func, insert, inspect, or_, select
from sqlalchemy.orm import Session, lazyload

from linli.errors import InvalidArgument, NotFound, shown_id
from services.intake.tickets.models import (
    OPEN_STATUSES,
    EscalationLevel,
    RoutingCorrection,
    Ticket,
    TicketEvent,
    TicketStatus,
)

# Any SELECT over tickets, whatever its columns: filtering keeps its type.
_AnySelect = TypeVar("_AnySelect", bound=Select[*tuple[Any, ...]])

_OPEN = [status.value for status in OPEN_STATUSES]


@dataclass(frozen=True)
class TicketQuery:
    """Filters and page of a ticket listing; None means no restriction."""

    community: str | None = None
    party: str | None = None
    status: TicketStatus | None = None
    resident_id: str | None = None
    page_size: int = 20
    page_token: str = ""
    escalation_level: EscalationLevel | None = None
    primary_id: str | None = None
    # A street worker's scope: the street's communities (None: no restriction beyond `community`).
    communities: tuple[str, ...] | None = None


def add(ticket: Ticket, *, session: Session) -> Ticket:
    """Stages a new ticket (and its events) for insertion."""
    session.add(ticket)
    session.flush()
    return ticket


def insert_new(ticket: Ticket, *, session: Session) -> Ticket:
    """Inserts a new ticket and its events with two INSERTs on the session's connection, outside the ORM.

    Every submission takes this path: the unit of work's flush cost ~0.65 CPU-ms more a ticket than the statements
    it sends (measured in docs/reliability.md). The ticket stays out of the session (its columns' defaults are set on
    it here, as a flush would), so nothing writes it twice; the events get no id back, which no reply shows.
    """
    row = {}
    for column, key in _TICKET_COLUMNS:
        if key not in ticket.__dict__ and column.default is not None:
            setattr(ticket, key, column.default.arg(None) if column.default.is_callable else column.default.arg)
        row[column.name] = getattr(ticket, key)
    connection = session.connection()
    connection.execute(_INSERT_TICKET, row)
    if ticket.events:
        connection.execute(_INSERT_EVENT, [_event_row(event, ticket.id) for event in ticket.events])
    return ticket


def _event_row(event: TicketEvent, ticket_id: str) -> dict[str, object]:
    values = {column.name: getattr(event, key) for column, key in _EVENT_COLUMNS}
    return values | {"ticket_id": ticket_id}


# (column, attribute) pairs, read once; the event's id is the database's to give.
_TICKET_COLUMNS = [(attribute.columns[0], attribute.key) for attribute in inspect(Ticket).column_attrs]
_EVENT_COLUMNS = [
    (attribute.columns[0], attribute.key) for attribute in inspect(TicketEvent).column_attrs if attribute.key != "id"
]
_INSERT_TICKET = insert(Ticket)
_INSERT_EVENT = insert(TicketEvent)


def _ticket_by_id(*, for_update: bool, with_history: bool) -> Select[Ticket]:
    query = select(Ticket).where(Ticket.id == bindparam("ticket_id"))
    if not with_history:
        query = query.options(lazyload(Ticket.events))
    return query.with_for_update() if for_update else query


# Built once: the hot paths (every submit, every triage) reuse a statement and its cache key instead of building and
# keying a SELECT per call (40-230 µs of Python each; bench.triage_cpu: 5.3 -> 4.0 CPU-ms a triage at stop 17).
_TICKET_BY_ID = {
    (for_update, with_history): _ticket_by_id(for_update=for_update, with_history=with_history)
    for for_update in (False, True)
    for with_history in (False, True)
}
_TRIAGE_INPUT = select(Ticket.status, Ticket.text, Ticket.community, Ticket.building).where(
    Ticket.id == bindparam("ticket_id")
)
_ID_BY_IDEMPOTENCY_KEY = select(Ticket.id).where(Ticket.idempotency_key == bindparam("key"))


def get(ticket_id: str, *, session: Session, for_update: bool = False, with_history: bool = True) -> Ticket:
    """The ticket with this id; raises NotFound. `for_update` locks the row on databases that can; without
    `with_history` its events are read only if something reads them (adding one does not: FlowContext.record)."""
    query = _TICKET_BY_ID[(for_update, with_history)]
    ticket = session.scalars(query, {"ticket_id": ticket_id}).one_or_none()
    if ticket is None:
        raise NotFound(f"no ticket {shown_id(ticket_id)}")
    return ticket


def triage_input(ticket_id: str, *, session: Session) -> tuple[str, str, str, str]:
    """Status, text, community and building of a ticket: what triage reads, in one query (`get` also loads the
    history); raises NotFound."""
    # On the connection: four columns need no ORM execution (nor an autoflush: nothing is pending before it).
    row = session.connection().execute(_TRIAGE_INPUT, {"ticket_id": ticket_id}).one_or_none()
    if row is None:
        raise NotFound(f"no ticket {shown_id(ticket_id)}")
    return row.status, row.text, row.community, row.building


def by_idempotency_key(key: str, *, session: Session) -> Ticket | None:
    """The ticket an earlier submit with this key created, if any."""
    # The id first, on the connection: nearly every key is new, and a miss then costs one narrow Core query, not an
    # ORM execution (submit asks before it stages anything, so there is nothing to autoflush).
    ticket_id = session.connection().execute(_ID_BY_IDEMPOTENCY_KEY, {"key": key}).scalar_one_or_none()
    return None if ticket_id is None else get(ticket_id, session=session)


def filters_of(query: TicketQuery) -> list[ColumnElement[bool]]:
    """The WHERE conditions of the listing's filters (the page token aside)."""
    filters: list[ColumnElement[bool]] = []
    if query.community:
        filters.append(Ticket.community == query.community)
    if query.communities is not None:
        filters.append(Ticket.community.in_(query.communities))
    if query.party:
        filters.append(Ticket.party == query.party)
    if query.status:
        filters.append(Ticket.status == query.status.value)
    if query.resident_id:
        filters.append(Ticket.resident_id == query.resident_id)
    if query.escalation_level:
        filters.append(Ticket.escalation_level == query.escalation_level.value)
    if query.primary_id:
        filters.append(Ticket.primary_id == query.primary_id)
    return filters


def filtered(statement: _AnySelect, query: TicketQuery) -> _AnySelect:
    """`statement` over tickets narrowed by the query's filters (not its page)."""
    return statement.where(*filters_of(query))


def list_page(query: TicketQuery, *, session: Session) -> tuple[list[Ticket], str]:
    """One page of tickets, newest first, and the token of the next page ('' on the last)."""
    statement = select(Ticket).order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(query.page_size + 1)
    statement = filtered(statement, query)
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


def follower_ids(primary_id: str, *, session: Session) -> list[str]:
    """Ids of the tickets merged into `primary_id`, oldest first."""
    statement = select(Ticket.id).where(Ticket.primary_id == primary_id).order_by(Ticket.created_at, Ticket.id)
    return list(session.scalars(statement))


def split_ids(ticket_ids: Sequence[str], *, session: Session) -> dict[str, list[str]]:
    """For each of `ticket_ids` that has any, the ids of the tickets split off from it, oldest first (one query)."""
    if not ticket_ids:
        return {}
    statement = (
        select(Ticket.split_from_id, Ticket.id)
        .where(Ticket.split_from_id.in_(ticket_ids))
        .order_by(Ticket.created_at, Ticket.id)
    )
    found: dict[str, list[str]] = {}
    for origin, split in session.execute(statement):
        if origin is not None:  # the IN filter leaves none; the column's type does not say so
            found.setdefault(origin, []).append(split)
    return found


def split_with_text(ticket_id: str, text: str, *, session: Session) -> str | None:
    """The id of a ticket already split off from `ticket_id` with exactly this text, if any."""
    statement = select(Ticket.id).where(Ticket.split_from_id == ticket_id, Ticket.text == text).limit(1)
    return session.scalars(statement).first()


def followers(primary_id: str, *, session: Session) -> list[Ticket]:
    """The tickets merged into `primary_id`, locked where the database can, oldest first."""
    statement = (
        select(Ticket).where(Ticket.primary_id == primary_id).order_by(Ticket.created_at, Ticket.id).with_for_update()
    )
    return list(session.scalars(statement))


def primaries(ids: Sequence[str], *, session: Session) -> dict[str, tuple[str, int]]:
    """Status and reporter count of each primary ticket in `ids`."""
    if not ids:
        return {}
    rows = session.execute(select(Ticket.id, Ticket.status, Ticket.reporter_count).where(Ticket.id.in_(ids)))
    return {row.id: (row.status, row.reporter_count) for row in rows}


def _skip_locked(statement: Select[Ticket]) -> Select[Ticket]:
    # Two beat runs (or a slow one and the next) split the work instead of waiting on each other's rows.
    return statement.with_for_update(skip_locked=True)


def stuck_received(cutoff: datetime, *, limit: int, session: Session) -> list[Ticket]:
    """Tickets still waiting for triage whose task was queued before `cutoff` (or never)."""
    queued = func.coalesce(Ticket.queued_at, Ticket.created_at)
    statement = (
        select(Ticket)
        .where(Ticket.status == TicketStatus.RECEIVED.value, queued <= cutoff)
        .order_by(Ticket.created_at)
        .limit(limit)
    )
    return list(session.scalars(_skip_locked(statement)))


def unsynced_cases(cutoff: datetime, *, limit: int, session: Session) -> list[Ticket]:
    """Tickets whose case retrieval must still learn or forget, last queued before `cutoff`."""
    queued = func.coalesce(Ticket.queued_at, Ticket.updated_at)
    statement = (
        select(Ticket).where(Ticket.case_sync_pending.is_(True), queued <= cutoff).order_by(Ticket.updated_at)
    ).limit(limit)
    return list(session.scalars(_skip_locked(statement)))


def overdue(now: datetime, *, limit: int, session: Session) -> list[Ticket]:
    """Open, unmerged tickets whose deadline at their current level has passed."""
    statement = (
        select(Ticket)
        .where(
            Ticket.status.in_(_OPEN),
            Ticket.primary_id.is_(None),
            Ticket.sla_due_at.is_not(None),
            Ticket.sla_due_at <= now,
        )
        .order_by(Ticket.sla_due_at)
        .limit(limit)
    )
    return list(session.scalars(_skip_locked(statement)))


def unrated_resolved(cutoff: datetime, *, limit: int, session: Session) -> list[Ticket]:
    """Resolved tickets, merged followers included, resolved at or before `cutoff`.

    A resolved ticket is unrated by construction: rating one closes or reopens it. Its `rating` column may still hold
    the score of an earlier round (rated, reopened, resolved again), so it is not a filter.
    """
    statement = (
        select(Ticket)
        .where(
            Ticket.status == TicketStatus.RESOLVED.value,
            Ticket.resolved_at.is_not(None),
            Ticket.resolved_at <= cutoff,
        )
        .order_by(Ticket.resolved_at)
        .limit(limit)
    )
    return list(session.scalars(_skip_locked(statement)))


def add_correction(correction: RoutingCorrection, *, session: Session) -> None:
    """Stages a routing correction."""
    session.add(correction)


def corrections(*, session: Session) -> list[RoutingCorrection]:
    """Every routing correction, oldest first."""
    return list(session.scalars(select(RoutingCorrection).order_by(RoutingCorrection.at, RoutingCorrection.id)))


def routed_counts(column: str, *, session: Session) -> dict[str, tuple[int, int]]:
    """For each value of `column` ("routed_party" or "catalog_entry") over tickets the router routed: how many
    there are and how many of them were transferred at least once."""
    key = getattr(Ticket, column)
    transferred = select(RoutingCorrection.ticket_id)
    rows = session.execute(
        select(key, func.count(), func.count().filter(Ticket.id.in_(transferred)))
        .where(Ticket.routed_party != "")
        .group_by(key)
        .order_by(key)
    )
    return {str(value): (int(total), int(moved)) for value, total, moved in rows}


def _encode_token(last: Ticket) -> str:
    raw = f"{last.created_at.isoformat()}|{last.id}".encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_token(token: str) -> tuple[datetime, str]:
    try:
        created_at, ticket_id = base64.urlsafe_b64decode(token.encode()).decode().split("|", 1)
        return datetime.fromisoformat(created_at), ticket_id
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise InvalidArgument.for_field("page_token", "not a token from a previous page") from error
