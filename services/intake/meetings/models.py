"""The matters put to the residents' meeting, as stored (services/intake/meetings/)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from linli.sql_types import UtcDateTime
from services.intake.database import Base
from services.intake.tickets.models import new_ticket_id


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
    # A catalog entry id, or "other" (services/intake/topics/flows.py).
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
