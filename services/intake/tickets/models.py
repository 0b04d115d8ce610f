"""The ticket and its event history as stored."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from linli.sql_types import UtcDateTime


class Base(DeclarativeBase):
    """Declarative base of the ticket database."""


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


def new_ticket_id() -> str:
    """A random, unguessable ticket id: residents see it, so it must not enumerate others' tickets."""
    return uuid.uuid4().hex


class Ticket(Base):
    """A resident's complaint and everything done about it."""

    __tablename__ = "tickets"

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
    rating: Mapped[int] = mapped_column(Integer, default=0)
    resolution: Mapped[str] = mapped_column(Text, default="")
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

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
    at: Mapped[datetime] = mapped_column(UtcDateTime)

    ticket: Mapped[Ticket] = relationship(back_populates="events")
