"""The inbox as stored and asked for: the sets and sorts a worker picks, their filters, and saved views."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from linli.errors import InvalidArgument
from linli.sql_types import UtcDateTime
from services.intake.database import Base
from services.intake.tickets.models import OPEN_STATUSES, TicketStatus, new_ticket_id


class InboxSet(StrEnum):
    """Which tickets an inbox tab shows."""

    ALL_OPEN = "all_open"  # everything still owed an answer, waiting for the resident included
    MINE = "mine"  # open and assigned to the caller
    OVERDUE = "overdue"  # open, past its deadline (a ticket waiting for the resident has its clock stopped)
    WAITING_RESIDENT = "waiting_resident"  # a worker asked the resident and waits for the answer
    UNASSIGNED = "unassigned"  # open and nobody's yet


class InboxSort(StrEnum):
    """The order of an inbox page."""

    DEADLINE = "deadline"  # soonest deadline first, tickets without one last
    PRIORITY = "priority"  # highest priority first, then by deadline
    NEWEST = "newest"  # newest first


# Open and waiting for the resident: someone still owes the resident an answer, the SLA clock stopped or not.
OPEN_OR_WAITING: frozenset[TicketStatus] = OPEN_STATUSES | {TicketStatus.WAITING_RESIDENT}

SET_STATUSES: dict[InboxSet, frozenset[TicketStatus]] = {
    InboxSet.ALL_OPEN: OPEN_OR_WAITING,
    InboxSet.MINE: OPEN_OR_WAITING,
    InboxSet.OVERDUE: OPEN_STATUSES,
    InboxSet.WAITING_RESIDENT: frozenset({TicketStatus.WAITING_RESIDENT}),
    InboxSet.UNASSIGNED: OPEN_STATUSES,
}

MAX_PAGE_SIZE = 100
MAX_VIEWS_PER_WORKER = 50
MAX_VIEW_NAME_CHARS = 40


class MalformedRequest(InvalidArgument):
    """A request no client of ours sends (a page token of another sort, the same ticket twice): 400, not 422."""

    http_status = 400


@dataclass(frozen=True)
class InboxFilters:
    """Optional narrowing of a set; None (or '') means no restriction."""

    community: str | None = None
    escalation_level: str | None = None
    urgency: str | None = None
    catalog_entry: str | None = None
    building: str | None = None

    def as_json(self) -> dict[str, str]:
        """The filters that are set, for a saved view."""
        return {name: value for name, value in vars(self).items() if value}


@dataclass(frozen=True)
class Scope:
    """What a worker may see: their party's tickets in their communities (None: every community), and for a
    dispatcher also the manual queue there."""

    party: str
    community: str | None
    communities: tuple[str, ...] | None
    with_manual_queue: bool


@dataclass(frozen=True)
class InboxQuery:
    """One page of one set, in one order, from a cursor."""

    inbox_set: InboxSet
    sort: InboxSort
    scope: Scope
    filters: InboxFilters
    worker_id: str
    now: datetime
    page_size: int = 20
    page_token: str = ""


class SavedView(Base):
    """A worker's named inbox: a set, its filters and an order, to pick again later."""

    __tablename__ = "saved_views"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_ticket_id)
    worker_id: Mapped[str] = mapped_column(String(128), index=True)
    name: Mapped[str] = mapped_column(String(MAX_VIEW_NAME_CHARS))
    # {"set": ..., "sort": ..., "filters": {...}}: what GET /v1/inbox takes.
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
