"""Data access for uploads: functions take a keyword-only session and never commit (the unit of work does)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
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


def remove_for_ticket(ticket_id: str, *, session: Session) -> list[str]:
    """Deletes the ticket's photos' rows; returns their objects' keys, for the store to delete after the commit."""
    return _remove(Upload.ticket_id == ticket_id, session=session)


def remove_by_uploader(uploader: str, *, session: Session) -> list[str]:
    """Deletes the rows of every photo `uploader` uploaded; returns their objects' keys."""
    return _remove(Upload.uploader == uploader, session=session)


def remove_unattached(before: datetime, *, limit: int, session: Session) -> list[str]:
    """Deletes the rows of up to `limit` photos no ticket took, uploaded before `before` (oldest first); returns their
    objects' keys. Rows a submission holds locked are skipped: it may be attaching them right now."""
    query = (
        select(Upload)
        .where(Upload.ticket_id.is_(None), Upload.created_at < before)
        .order_by(Upload.created_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return _delete(session.scalars(query), session=session)


def _remove(condition: ColumnElement[bool], *, session: Session) -> list[str]:
    return _delete(session.scalars(select(Upload).where(condition)), session=session)


def _delete(uploads: Iterable[Upload], *, session: Session) -> list[str]:
    keys = []
    for upload in uploads:
        keys += [upload.photo_key, upload.thumbnail_key]
        session.delete(upload)
    session.flush()
    return keys
