"""The audit log's queries; each takes the caller's session and never commits."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.orm import Session

from linli.errors import InvalidArgument
from services.intake.audit.models import AuditAction, AuditEvent

MAX_PAGE_SIZE = 200


@dataclass(frozen=True)
class AuditQuery:
    """A page of the log, newest first: events of `action` by `actor` at or after `since` and before `until`."""

    action: AuditAction | None = None
    actor: str = ""
    since: datetime | None = None
    until: datetime | None = None
    page_size: int = 50
    page_token: str = ""


def add(event: AuditEvent, *, session: Session) -> None:
    """Stages `event` in the caller's transaction."""
    session.add(event)


def page(query: AuditQuery, *, session: Session) -> tuple[list[AuditEvent], str]:
    """The events `query` asks for, newest first, and the token of the next page ('' when this is the last)."""
    statement = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(query.page_size + 1)
    if query.action is not None:
        statement = statement.where(AuditEvent.action == query.action.value)
    if query.actor:
        statement = statement.where(AuditEvent.actor == query.actor)
    if query.since is not None:
        statement = statement.where(AuditEvent.at >= query.since)
    if query.until is not None:
        statement = statement.where(AuditEvent.at < query.until)
    if query.page_token:
        at, event_id = _decode_token(query.page_token)
        statement = statement.where(or_(AuditEvent.at < at, and_(AuditEvent.at == at, AuditEvent.id < event_id)))
    events = list(session.scalars(statement))
    if len(events) <= query.page_size:
        return events, ""
    events = events[: query.page_size]
    return events, _encode_token(events[-1])


def delete_before(cutoff: datetime, *, limit: int, session: Session) -> int:
    """Deletes up to `limit` events older than `cutoff`, oldest first; returns how many."""
    oldest = select(AuditEvent.id).where(AuditEvent.at < cutoff).order_by(AuditEvent.at).limit(limit)
    ids = list(session.scalars(oldest))
    if not ids:
        return 0
    session.execute(delete(AuditEvent).where(AuditEvent.id.in_(ids)))
    return len(ids)


def _encode_token(last: AuditEvent) -> str:
    return base64.urlsafe_b64encode(f"{last.at.isoformat()}|{last.id}".encode()).decode()


def _decode_token(token: str) -> tuple[datetime, str]:
    try:
        at_text, event_id = base64.urlsafe_b64decode(token.encode("ascii")).decode().split("|", 1)
        at = datetime.fromisoformat(at_text)
    except (binascii.Error, UnicodeError, ValueError) as error:
        raise InvalidArgument.for_field("page_token", "not a token from a previous page") from error
    if at.tzinfo is None:
        raise InvalidArgument.for_field("page_token", "not a token from a previous page")
    return at, event_id
