"""Uploaded photos as stored: one row per photo, its objects' keys, who uploaded it and the ticket it belongs to."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from linli.sql_types import UtcDateTime
from services.intake.database import Base
from services.intake.tickets.models import new_ticket_id


class PhotoKind(StrEnum):
    """Whose photo: the resident's of the problem, or the worker's of the work done."""

    BEFORE = "before"
    AFTER = "after"


class Upload(Base):
    """A photo: its uploader's until attached to a ticket, then readable by whoever may read that ticket."""

    __tablename__ = "uploads"

    # Random and unguessable, like ticket ids: it names the objects in the store too.
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_ticket_id)
    # The actor who uploaded it (resident:<openid> or worker:<id>): only they may attach it.
    uploader: Mapped[str] = mapped_column(String(160), index=True)
    ticket_id: Mapped[str | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), nullable=True, index=True
    )
    kind: Mapped[str] = mapped_column(String(8), default=PhotoKind.BEFORE.value)
    content_type: Mapped[str] = mapped_column(String(32))
    photo_key: Mapped[str] = mapped_column(String(128))
    thumbnail_key: Mapped[str] = mapped_column(String(128))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
