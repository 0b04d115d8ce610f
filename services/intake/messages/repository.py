"""Reading and writing ticket messages; functions take a keyword-only session and never commit."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from linli.pii import scrub
from services.intake.messages.models import TicketMessage


def add(message: TicketMessage, *, session: Session) -> TicketMessage:
    """Stages a new message; its id is set once the session flushes."""
    session.add(message)
    session.flush()
    return message


def thread(ticket_id: str, *, session: Session, with_internal: bool) -> list[TicketMessage]:
    """The ticket's messages, oldest first; the workers' internal notes only `with_internal`."""
    statement = select(TicketMessage).where(TicketMessage.ticket_id == ticket_id)
    if not with_internal:
        statement = statement.where(TicketMessage.internal.is_(False))
    return list(session.scalars(statement.order_by(TicketMessage.created_at, TicketMessage.id)))


def anonymize(ticket_id: str, *, former_actor: str, new_actor: str, session: Session) -> int:
    """Scrubs personal data from every message of the ticket (workers may quote the resident too) and rewrites the
    resident's actor to `new_actor`; the photos go, as the ticket's do. Returns how many messages changed."""
    changed = 0
    for message in session.scalars(select(TicketMessage).where(TicketMessage.ticket_id == ticket_id)):
        actor = new_actor if message.actor == former_actor else message.actor
        text = scrub(message.text)
        if (actor, text, message.attachment_urls) != (message.actor, message.text, []):
            message.actor, message.text, message.attachment_urls = actor, text, []
            changed += 1
    return changed
