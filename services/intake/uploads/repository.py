"""Data access for uploads: functions take a keyword-only session and never commit (the unit of work does)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.intake.uploads.models import Upload


def add(upload: Upload, *, session: Session) -> Upload:
    """Stages a new upload for insertion."""
    session.add(upload)
    session.flush()
    return upload


def find(upload_id: str, *, session: Session, for_update: bool = False) -> Upload | None:
    """The upload with this id, or None."""
    query = select(Upload).where(Upload.id == upload_id)
    if for_update:
        query = query.with_for_update()
    return session.scalars(query).one_or_none()


def count_for_ticket(ticket_id: str, *, session: Session) -> int:
    """How many photos the ticket carries."""
    return int(session.scalar(select(func.count()).select_from(Upload).where(Upload.ticket_id == ticket_id)) or 0)


def for_tickets(ticket_ids: Sequence[str], *, session: Session) -> dict[str, list[Upload]]:
    """The photos of each ticket, oldest first; tickets without photos are left out."""
    if not ticket_ids:
        return {}
    query = select(Upload).where(Upload.ticket_id.in_(ticket_ids)).order_by(Upload.created_at, Upload.id)
    found: dict[str, list[Upload]] = {}
    for upload in session.scalars(query):
        found.setdefault(upload.ticket_id or "", []).append(upload)
    return found
