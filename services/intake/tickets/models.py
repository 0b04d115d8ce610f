"""Tickets as stored: the ticket, its event history and the routing corrections (the schema's history is in
migrations/; every table of the database is listed in services/intake/schema.py)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from linli.sql_types import UtcDateTime
from services.intake.database import Base


class TicketStatus(StrEnum):
    """Lifecycle of a ticket; see protos/linli/v1/intake.proto for each meaning."""

    RECEIVED = "received"
    ROUTED = "routed"
    NEEDS_MANUAL = "needs_manual"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REOPENED = "reopened"
    TRANSFERRED = "transferred"
    MERGED = "merged"
    # A worker asked the resident a question: the SLA clock stops until the resident answers (messages/waiting.py).
    WAITING_RESIDENT = "waiting_resident"


# Someone still owes the resident an answer: these tickets have an SLA deadline and can be escalated or merged into.
OPEN_STATUSES: frozenset[TicketStatus] = frozenset(
    {
        TicketStatus.ROUTED,
        TicketStatus.NEEDS_MANUAL,
        TicketStatus.ACCEPTED,
        TicketStatus.IN_PROGRESS,
        TicketStatus.TRANSFERRED,
        TicketStatus.REOPENED,
    }
)


class Urgency(StrEnum):
    """How soon a person must act, from the routing decision."""

    NORMAL = "normal"
    URGENT = "urgent"
    EMERGENCY = "emergency"


class EscalationLevel(StrEnum):
    """The ladder 小事不出楼组、大事不出社区、难事不出街道, lowest rung first."""

    BUILDING = "building"
    COMMUNITY = "community"
    STREET = "street"

    def next_up(self) -> EscalationLevel | None:
        """The rung above, None at the top."""
        ladder = list(EscalationLevel)
        position = ladder.index(self)
        return ladder[position + 1] if position + 1 < len(ladder) else None


# The resident id of a ticket whose resident was erased (services/intake/residents/erasure.py): "erased:" + a random id.
ERASED_RESIDENT_PREFIX = "erased:"


def is_erased_resident(resident_id: str) -> bool:
    """True for a resident id that erasure or retention wrote: it names nobody, so nobody is told anything."""
    return resident_id.startswith(ERASED_RESIDENT_PREFIX)


def new_ticket_id() -> str:
    """A random, unguessable ticket id: residents see it, so it must not enumerate others' tickets."""
    return uuid.uuid4().hex


class Ticket(Base):
    """A resident's complaint and everything done about it."""

    __tablename__ = "tickets"
    __table_args__ = (
        # The SLA sweep and the duplicate search both look at open tickets by status and time.
        Index("ix_tickets_status_sla_due_at", "status", "sla_due_at"),
        Index("ix_tickets_community_created_at", "community", "created_at"),
        # Open311's search by status or by service within a date range (migration 0007).
        Index("ix_tickets_status_created_at", "status", "created_at"),
        Index("ix_tickets_catalog_entry_created_at", "catalog_entry", "created_at"),
        # The inbox's sets by deadline, priority and age within a party's communities, and a worker's own (0012).
        Index("ix_tickets_party_community_status_sla_due_at", "party", "community", "status", "sla_due_at"),
        Index("ix_tickets_party_status_priority_sla_due_at", "party", "status", "priority", "sla_due_at"),
        Index("ix_tickets_party_status_created_at", "party", "status", "created_at"),
        Index("ix_tickets_assignee_worker_id_status", "assignee_worker_id", "status"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_ticket_id)
    text: Mapped[str] = mapped_column(Text)
    community: Mapped[str] = mapped_column(String(128), index=True)
    building: Mapped[str] = mapped_column(String(64), default="")
    resident_id: Mapped[str] = mapped_column(String(128), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True, default=TicketStatus.RECEIVED.value)
    party: Mapped[str] = mapped_column(String(64), default="", index=True)
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    routing: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    attachment_urls: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Where the problem is, in WGS-84 degrees, when the resident or client gave a point: both or neither.
    latitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    longitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    # The resident's optional callback number (联系电话, migration 0016): personal data. Workers see a mask; the full
    # number only through GET /v1/tickets/{id}/contact, which the audit log records. Never exported, sent in a
    # webhook or learned from; erasure and retention clear it.
    contact_phone: Mapped[str] = mapped_column(String(20), default="", server_default="")
    rating: Mapped[int] = mapped_column(Integer, default=0)
    resolution: Mapped[str] = mapped_column(Text, default="")
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

    # The router's own choice, kept when workers move the ticket: the denominator of the transfer rate.
    routed_party: Mapped[str] = mapped_column(String(64), default="")
    catalog_entry: Mapped[str] = mapped_column(String(128), default="", index=True)
    urgency: Mapped[str] = mapped_column(String(16), default=Urgency.NORMAL.value)
    priority: Mapped[int] = mapped_column(Integer, default=1)
    escalation_level: Mapped[str] = mapped_column(String(16), default=EscalationLevel.COMMUNITY.value)
    sla_hours: Mapped[int] = mapped_column(Integer, default=0)
    sla_due_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    assignee_worker_id: Mapped[str] = mapped_column(String(128), default="")
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)

    reporter_count: Mapped[int] = mapped_column(Integer, default=1)
    primary_id: Mapped[str | None] = mapped_column(ForeignKey("tickets.id"), nullable=True, index=True)
    # One message, several problems ("一单多事"): the ticket whose message this one's problem was split off from.
    split_from_id: Mapped[str | None] = mapped_column(ForeignKey("tickets.id"), nullable=True, index=True)
    # float32 vector from retrieval's Embed, for duplicate detection; the model name says which space it lives in.
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    embedding_model: Mapped[str] = mapped_column(String(128), default="")

    # When triage was last queued: the sweep re-queues only tickets queued long enough ago.
    queued_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # The retrieval index must learn (resolved) or forget (reopened) this ticket's case.
    case_sync_pending: Mapped[bool] = mapped_column(Boolean, default=False, index=True)

    # The conversation (services/intake/messages): while WAITING_RESIDENT, since when and the status to return to;
    # the SLA time spent waiting so far; the resident's messages no worker has read yet.
    waiting_since: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    status_before_waiting: Mapped[str] = mapped_column(String(16), default="")
    sla_paused_seconds: Mapped[int] = mapped_column(Integer, default=0)
    unread_resident_messages: Mapped[int] = mapped_column(Integer, default=0)

    # What the dashboards count (services/intake/dashboards), kept as the flows act so that a month of a street is
    # one indexed aggregate: seconds from receipt to the first acceptance and to the (latest) resolution, whether
    # that resolution met its deadline (None: no deadline, or resolved before migration 0014), and how often the
    # ticket was reopened and transferred.
    accept_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    resolve_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    resolved_on_time: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    transfer_count: Mapped[int] = mapped_column(Integer, default=0)

    events: Mapped[list[TicketEvent]] = relationship(
        back_populates="ticket", order_by="TicketEvent.id", cascade="all, delete-orphan", lazy="selectin"
    )


def seconds_since_receipt(ticket: Ticket, at: datetime) -> int:
    """Whole seconds from the ticket's receipt to `at` (never negative)."""
    return max(int((at - ticket.created_at).total_seconds()), 0)


def stamp_acceptance(ticket: Ticket, at: datetime) -> None:
    """Records the response time: the first acceptance's (a transfer and a new acceptance do not reset it)."""
    if ticket.accept_seconds is None:
        ticket.accept_seconds = seconds_since_receipt(ticket, at)


def stamp_resolution(ticket: Ticket, now: datetime) -> None:
    """Marks the ticket resolved at `now`: its duration, whether it met its deadline (a wait for the resident still
    running moves the deadline like an answer would), and no deadline or wait left."""
    deadline = ticket.sla_due_at
    if deadline is not None and ticket.waiting_since is not None:
        deadline += max(now - ticket.waiting_since, timedelta(0))
    ticket.resolved_on_time = None if deadline is None else now <= deadline
    ticket.resolve_seconds = seconds_since_receipt(ticket, now)
    ticket.resolved_at, ticket.sla_due_at, ticket.waiting_since = now, None, None


class TicketEvent(Base):
    """One entry of a ticket's history: who did what, when and why."""

    __tablename__ = "ticket_events"
    # Who acted before, for which party: the colleagues a ticket may be assigned to (migration 0012).
    __table_args__ = (Index("ix_ticket_events_actor_party", "actor", "party"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(160))
    note: Mapped[str] = mapped_column(Text, default="")
    from_party: Mapped[str] = mapped_column(String(64), default="")
    to_party: Mapped[str] = mapped_column(String(64), default="")
    # The party a worker acted for; empty for residents and the system.
    party: Mapped[str] = mapped_column(String(64), default="")
    at: Mapped[datetime] = mapped_column(UtcDateTime)

    ticket: Mapped[Ticket] = relationship(back_populates="events")


class RoutingCorrection(Base):
    """A worker's transfer, read as "the router (or a colleague) sent this text to the wrong party"."""

    __tablename__ = "routing_corrections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    # Scrubbed of personal data: corrections leave the ticket store as training data.
    text: Mapped[str] = mapped_column(Text)
    from_party: Mapped[str] = mapped_column(String(64))
    to_party: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    worker_id: Mapped[str] = mapped_column(String(128))
    catalog_entry: Mapped[str] = mapped_column(String(128), default="")
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
