"""The ticket database as stored: the ticket, its event history, the routing corrections, the revoked token
subjects, and the matters put to the residents' meeting (the schema's history is in migrations/).

Every table of this database is declared here, on one Base: Alembic's environment and the migration tests compare
the migrations against `Base.metadata`, which only knows the models whose module has been imported.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, LargeBinary, MetaData, String, Text, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from linli.sql_types import UtcDateTime

# Named constraints, so that migrations can refer to them on every database (SQLite included).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of the ticket database."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


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

    events: Mapped[list[TicketEvent]] = relationship(
        back_populates="ticket", order_by="TicketEvent.id", cascade="all, delete-orphan", lazy="selectin"
    )


class TicketEvent(Base):
    """One entry of a ticket's history: who did what, when and why."""

    __tablename__ = "ticket_events"

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


class RevokedSubject(Base):
    """Someone whose tokens are refused: those of `kind`/`subject` issued at or before `revoked_before`.

    Read by services.intake.auth.revocations; revoking the same subject again moves `revoked_before` forward,
    unrevoking deletes the row, and a row older than the longest token lifetime is pruned.
    """

    __tablename__ = "revoked_subjects"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    subject: Mapped[str] = mapped_column(String(128), primary_key=True)
    # Whole seconds, like a token's issued-at: a token issued in the second of the revocation is refused too.
    revoked_before: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime] = mapped_column(UtcDateTime)
    reason: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(128))


class MeetingStatus(StrEnum):
    """Where a matter put to the residents' meeting (议事协商) stands."""

    PROPOSED = "proposed"  # put forward from a hot topic, no meeting set yet
    SCHEDULED = "scheduled"  # the meeting of 居委会, 业委会, 物业 and residents has a time
    DECIDED = "decided"  # the meeting decided (e.g. a 居民公约 clause): public from now on
    DROPPED = "dropped"  # not taken up, with the reason


# A matter still before the meeting: one per community and topic at a time.
OPEN_MEETING_STATUSES: frozenset[MeetingStatus] = frozenset({MeetingStatus.PROPOSED, MeetingStatus.SCHEDULED})
_OPEN_MEETING_ITEM = text("status IN ('proposed', 'scheduled')")


class MeetingItem(Base):
    """A hot topic put to the residents' meeting, and what became of it (services/intake/meetings/)."""

    __tablename__ = "meeting_items"
    __table_args__ = (
        # Partial unique index: a topic may come back to the meeting once its earlier item is decided or dropped.
        Index(
            "uq_meeting_items_open_topic",
            "community",
            "topic_key",
            unique=True,
            postgresql_where=_OPEN_MEETING_ITEM,
            sqlite_where=_OPEN_MEETING_ITEM,
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_ticket_id)
    community: Mapped[str] = mapped_column(String(128), index=True)
    # A catalog entry id, or "other" (services/intake/topics.py).
    topic_key: Mapped[str] = mapped_column(String(128))
    title: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default=MeetingStatus.PROPOSED.value)
    # The evidence at proposal time: the ISO week (2026-W47) and how many residents and reports raised the topic.
    week: Mapped[str] = mapped_column(String(8))
    residents: Mapped[int] = mapped_column(Integer, default=0)
    reports: Mapped[int] = mapped_column(Integer, default=0)
    proposed_by: Mapped[str] = mapped_column(String(160))
    proposed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    meeting_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    outcome: Mapped[str] = mapped_column(Text, default="")
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    # Who moved the item last (schedule, decide, drop), as proposed_by names the proposer.
    updated_by: Mapped[str] = mapped_column(String(160), default="")
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
