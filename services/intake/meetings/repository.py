"""The meeting-item reads of the meeting flows; each takes the caller's session and never commits."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.intake.meetings.models import OPEN_MEETING_STATUSES, MeetingItem


def items_of(community: str, statuses: Collection[str], *, session: Session) -> list[MeetingItem]:
    """The community's items whose status is among `statuses` (empty: all), newest proposal first."""
    statement = select(MeetingItem).where(MeetingItem.community == community)
    if statuses:
        statement = statement.where(MeetingItem.status.in_(sorted(statuses)))
    statement = statement.order_by(MeetingItem.proposed_at.desc(), MeetingItem.id)
    return list(session.scalars(statement))


def open_item(community: str, topic_key: str, *, session: Session) -> MeetingItem | None:
    """The community's item of `topic_key` still before the meeting (proposed or scheduled), if any."""
    statuses = [status.value for status in OPEN_MEETING_STATUSES]
    statement = select(MeetingItem).where(
        MeetingItem.community == community, MeetingItem.topic_key == topic_key, MeetingItem.status.in_(statuses)
    )
    return session.scalars(statement).first()


def item_for_update(item_id: str, *, session: Session) -> MeetingItem | None:
    """The item `item_id`, locked for update; None when there is none."""
    return session.get(MeetingItem, item_id, with_for_update=True)
