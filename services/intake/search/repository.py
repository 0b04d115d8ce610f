"""Ticket search queries: one per match tier, each newest first and bounded by the caller's scope and the page.

SQLite looks words of three characters or more up in the FTS5 trigram table (`ticket_search`), shorter ones with
LIKE over the tickets the scope leaves; PostgreSQL uses ILIKE, which its trigram GIN indexes answer from three
characters and its character-pair GIN indexes (`linli_bigrams`) for two. A ticket number's prefix is a range of
the primary key on both.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import ARRAY, ColumnElement, Text, and_, column, false, func, literal, not_, or_, select, table
from sqlalchemy.orm import InstrumentedAttribute, Session, raiseload

from linli.errors import InvalidArgument
from services.intake.search.models import TRIGRAM, MatchTier, ticket_number_prefix
from services.intake.tickets.models import Ticket, TicketStatus
from services.intake.tickets.repository import TicketQuery, filters_of

_DOCS = table("ticket_search_docs", column("doc"), column("ticket_id"))
_FTS = table("ticket_search", column("rowid"), column("text"), column("building"), column("resolution"))


@dataclass(frozen=True)
class Scope:
    """Which tickets may be searched: the scoped listing's filters, plus the manual queue for dispatchers."""

    query: TicketQuery
    manual_queue_too: bool = False

    def conditions(self) -> list[ColumnElement[bool]]:
        """The WHERE conditions of the scope."""
        if not self.manual_queue_too or not self.query.party:
            return filters_of(self.query)
        # The party's tickets, or the manual queue (which belongs to no party yet), within the same communities.
        own = filters_of(self.query)
        unrouted = filters_of(replace(self.query, party=None))
        return [or_(and_(*own), and_(*unrouted, Ticket.status == TicketStatus.NEEDS_MANUAL.value))]


@dataclass(frozen=True)
class Cursor:
    """Where a page ended: the tier of its last ticket, and that ticket's time and number."""

    tier: MatchTier
    created_at: datetime
    ticket_id: str


def search_page(
    q: str, scope: Scope, *, page_size: int, page_token: str, session: Session
) -> tuple[list[tuple[Ticket, MatchTier]], str]:
    """One page of the tickets matching `q` within `scope`, best tier first then newest, and the next page's token."""
    cursor = decode_cursor(page_token) if page_token else None
    dialect = session.get_bind().dialect.name
    allowed = scope.conditions()
    found: list[tuple[Ticket, MatchTier]] = []
    for tier, condition in tier_conditions(q, dialect):
        if cursor is not None and tier < cursor.tier:
            continue
        statement = (
            select(Ticket)
            # Results are summaries without history: loading every ticket's events would cost a query per tier.
            .options(raiseload(Ticket.events))
            .where(condition, *allowed)
            .order_by(Ticket.created_at.desc(), Ticket.id.desc())
            .limit(page_size + 1 - len(found))
        )
        if cursor is not None and tier == cursor.tier:
            statement = statement.where(
                or_(
                    Ticket.created_at < cursor.created_at,
                    and_(Ticket.created_at == cursor.created_at, Ticket.id < cursor.ticket_id),
                )
            )
        found.extend((ticket, tier) for ticket in session.scalars(statement))
        if len(found) > page_size:
            page = found[:page_size]
            last, last_tier = page[-1]
            return page, encode_cursor(Cursor(last_tier, last.created_at, last.id))
    return found, ""


def tier_conditions(q: str, dialect: str) -> list[tuple[MatchTier, ColumnElement[bool]]]:
    # Each tier leaves out what a better tier already listed, so a ticket appears once.
    prefix = ticket_number_prefix(q)
    number = and_(Ticket.id >= prefix, Ticket.id < prefix + "g") if prefix else false()
    building = _matches(Ticket.building, q, dialect)
    text = _matches(Ticket.text, q, dialect)
    resolution = _matches(Ticket.resolution, q, dialect)
    tiers = [(MatchTier.TICKET_NUMBER, number)] if prefix else []
    better: list[ColumnElement[bool]] = [number] if prefix else []
    for tier, condition in ((MatchTier.BUILDING, building), (MatchTier.TEXT, text), (MatchTier.RESOLUTION, resolution)):
        tiers.append((tier, and_(condition, *(not_(b) for b in better))))
        better.append(condition)
    return tiers


def _matches(field: InstrumentedAttribute[str], q: str, dialect: str) -> ColumnElement[bool]:
    """`field` contains `q`, case-insensitively for Latin letters, as an index-backed condition where one exists."""
    pattern = "%" + escape_like(q) + "%"
    if dialect == "postgresql":
        if len(q) >= TRIGRAM:
            return field.ilike(pattern, escape="\\")
        # Not ILIKE: the planner would take the trigram index for it, which holds no trigram of a two-character
        # word and so reads every entry (0.2 s at 200,000 tickets); strpos leaves it the character-pair index only.
        pair = literal([q.lower()], ARRAY(Text))
        return and_(func.linli_bigrams(field).op("@>")(pair), func.strpos(func.lower(field), q.lower()) > 0)
    if len(q) >= TRIGRAM:
        hits = (
            select(_DOCS.c.ticket_id)
            .join(_FTS, _FTS.c.rowid == _DOCS.c.doc)
            .where(_FTS.c[field.key].op("MATCH")(fts_phrase(q)))
        )
        return Ticket.id.in_(hits)
    return field.like(pattern, escape="\\")


def escape_like(q: str) -> str:
    """`q` as a LIKE pattern matching itself: backslash, % and _ escaped with a backslash."""
    return q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def fts_phrase(q: str) -> str:
    """`q` as one FTS5 string (a phrase): its quotes doubled, so no FTS5 syntax (AND, NEAR(, *, :) in it acts."""
    return '"' + q.replace('"', '""') + '"'


def encode_cursor(cursor: Cursor) -> str:
    """The page token of `cursor`."""
    raw = f"{int(cursor.tier)}|{cursor.created_at.isoformat()}|{cursor.ticket_id}".encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_cursor(token: str) -> Cursor:
    """The cursor of a page token; InvalidArgument for anything a previous page did not give."""
    try:
        tier, created_at, ticket_id = base64.urlsafe_b64decode(token.encode()).decode().split("|", 2)
        return Cursor(MatchTier(int(tier)), datetime.fromisoformat(created_at), ticket_id)
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise InvalidArgument.for_field("page_token", "not a token from a previous page") from error
