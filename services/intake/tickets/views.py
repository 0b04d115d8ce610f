"""A ticket as residents and workers see it: the stored row plus what its duplicates and splits add."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from services.intake.tickets import repository
from services.intake.tickets.context import duplicate_notice
from services.intake.tickets.models import Ticket, TicketStatus
from services.intake.uploads import repository as uploads
from services.intake.uploads.models import Upload


@dataclass(frozen=True)
class TicketView:
    """A ticket with its primary's status and reporters (when merged), the tickets merged into it, the tickets
    split off from it and its photos."""

    ticket: Ticket
    primary_status: TicketStatus | None = None
    reporters: int = 1
    duplicate_ids: list[str] = field(default_factory=list)
    split_ids: list[str] = field(default_factory=list)
    attachments: list[Upload] = field(default_factory=list)

    @property
    def duplicate_notice(self) -> str:
        """ "N 位邻居也反映了这个问题", counted on the primary so every reporter reads the same N."""
        return duplicate_notice(self.reporters)

    @property
    def urgency_notice(self) -> str:
        """What to do now, for urgent and emergency tickets (from the routing decision)."""
        return str((self.ticket.routing or {}).get("urgency_notice", ""))


def view_of(ticket: Ticket, *, session: Session) -> TicketView:
    """The full view of one ticket (four small queries: its primary, its duplicates, its splits and its photos)."""
    primary_status, reporters = None, ticket.reporter_count
    if ticket.primary_id:
        status, reporters = repository.primaries([ticket.primary_id], session=session)[ticket.primary_id]
        primary_status = TicketStatus(status)
    return TicketView(
        ticket,
        primary_status,
        reporters,
        repository.follower_ids(ticket.id, session=session),
        repository.split_ids([ticket.id], session=session).get(ticket.id, []),
        uploads.for_tickets([ticket.id], session=session).get(ticket.id, []),
    )


def new_ticket_view(ticket: Ticket, *, session: Session, took_photos: bool) -> TicketView:
    """The view of a ticket added in this very transaction: no other ticket can name it as its primary or as what it
    was split from yet, so only its photos are looked up, and only if it took some."""
    photos = uploads.for_tickets([ticket.id], session=session).get(ticket.id, []) if took_photos else []
    return TicketView(ticket, None, ticket.reporter_count, [], [], photos)


def views_of(tickets: list[Ticket], *, session: Session) -> list[TicketView]:
    """Views of a page of tickets, with one query for all their primaries and one for all their splits (an inbox
    shows which messages still hold a problem nobody split off), none for duplicates."""
    known = repository.primaries([t.primary_id for t in tickets if t.primary_id], session=session)
    splits = repository.split_ids([t.id for t in tickets], session=session)
    photos = uploads.for_tickets([t.id for t in tickets], session=session)
    views = []
    for ticket in tickets:
        status, reporters = known.get(ticket.primary_id or "", (None, ticket.reporter_count))
        primary_status = TicketStatus(status) if status else None
        views.append(
            TicketView(
                ticket,
                primary_status,
                reporters,
                split_ids=splits.get(ticket.id, []),
                attachments=photos.get(ticket.id, []),
            )
        )
    return views
