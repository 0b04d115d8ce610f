"""Messages as stored: one row per message on a ticket's thread (the schema's history is in migrations/)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from linli.sql_types import UtcDateTime
from services.intake.database import Base


class Author(StrEnum):
    """Who wrote a message: the resident who raised the ticket, or a worker who may act on it."""

    RESIDENT = "resident"
    WORKER = "worker"


def new_message_id() -> str:
    """A random message id: residents see it, so it must not enumerate others' messages."""
    return uuid.uuid4().hex


class TicketMessage(Base):
    """One message of a ticket's conversation; an internal note is the workers' own and never shown to residents."""

    __tablename__ = "ticket_messages"
    __table_args__ = (Index("ix_ticket_messages_ticket_id_created_at", "ticket_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_message_id)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    author: Mapped[str] = mapped_column(String(16))
    # The history's actor ("resident:…", "worker:…"): erasure rewrites the resident's to the tombstone's.
    actor: Mapped[str] = mapped_column(String(160))
    # The party a worker wrote for; empty for the resident.
    party: Mapped[str] = mapped_column(String(64), default="")
    text: Mapped[str] = mapped_column(Text)
    internal: Mapped[bool] = mapped_column(Boolean, default=False)
    asks_resident: Mapped[bool] = mapped_column(Boolean, default=False)
    attachment_urls: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
