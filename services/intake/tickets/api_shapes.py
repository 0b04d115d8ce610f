"""The JSON shapes the tickets API answers with: tickets and their routing (request bodies: api_bodies.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, Field

from services.intake.auth.identity import Caller, Worker
from services.intake.tickets.models import EscalationLevel, Ticket, TicketStatus, Urgency
from services.intake.tickets.precedent_privacy import history_note_for_reader
from services.intake.tickets.resident_privacy import ResidentAlias, actor_for, contact_phone_for, resident_id_for
from services.intake.tickets.routing_shapes import RoutingOut, routing_out
from services.intake.tickets.views import TicketView


class LocationOut(BaseModel):
    """Where the problem is, in WGS-84 degrees."""

    latitude: float
    longitude: float


class EventOut(BaseModel):
    """One entry of a ticket's history."""

    kind: str
    actor: str
    party: str = Field(description="Party a worker acted for; empty for residents and the system.")
    note: str
    from_party: str
    to_party: str
    at: datetime


class AttachmentOut(BaseModel):
    """A photo of the ticket, through signed links that expire (read the ticket again for fresh ones)."""

    id: str
    kind: str = Field(
        description="`before`: the resident's photo of the problem; `after`: a worker's of the work done."
    )
    content_type: str
    width: int
    height: int
    url: str = Field(description="The photo (EXIF removed); a path on intake for the local store, else a URL.")
    thumbnail_url: str = Field(description="Its JPEG thumbnail, at most 320 px a side.")


class PhotoLinker(Protocol):
    """Signs short-lived links to stored photos (services/intake/uploads/flows.py: PhotoLinks)."""

    def link(self, key: str) -> str:
        """A link to the object under `key`."""
        ...


class TicketOut(BaseModel):
    """A ticket as residents and workers see it."""

    id: str
    text: str
    community: str
    building: str
    resident_id: str = Field(description="The resident's id; workers see its pseudonym `rp:…` instead.")
    status: TicketStatus
    party: str
    confidence: float
    routing: RoutingOut | None
    attachment_urls: list[str]
    attachments: list[AttachmentOut] = Field(description="Uploaded photos, oldest first.")
    location: LocationOut | None = Field(description="Where the problem is; null when no point was given.")
    contact_phone: str = Field(
        description="The resident's callback number: in full for the resident, masked (138****5678) for workers, who "
        "read it through GET /v1/tickets/{id}/contact; '' when none was given."
    )
    has_contact_phone: bool = Field(description="Whether the resident left a callback number.")
    rating: int
    resolution: str
    created_at: datetime
    updated_at: datetime
    priority: int = Field(description="Urgency's weight plus one per neighbour who reported the same problem.")
    urgency: Urgency
    urgency_notice: str
    escalation_level: EscalationLevel
    sla_due_at: datetime | None
    reporter_count: int
    duplicate_notice: str = Field(description='e.g. "2 位邻居也反映了这个问题"; empty when nobody else did.')
    primary_ticket_id: str
    primary_status: TicketStatus | None = Field(description="Status of the primary, which a merged ticket follows.")
    duplicate_ticket_ids: list[str]
    split_from_ticket_id: str = Field(description="The ticket this one was split off from; empty unless split off.")
    split_ticket_ids: list[str] = Field(description="Tickets split off from this one, oldest first.")
    assignee_worker_id: str
    resolved_at: datetime | None
    catalog_entry: str
    waiting_since: datetime | None = Field(description="Since when it waits for the resident's answer (SLA paused).")
    sla_paused_seconds: int = Field(description="Seconds the SLA clock stood still while it waited for the resident.")
    unread_resident_messages: int = Field(description="The resident's messages no worker has read yet.")
    events: list[EventOut]


class TicketPageOut(BaseModel):
    """One page of a listing."""

    tickets: list[TicketOut]
    next_page_token: str


class ContactOut(BaseModel):
    """A ticket's callback number in full ('' when the resident gave none)."""

    ticket_id: str
    contact_phone: str
    has_contact_phone: bool


class MergeOut(BaseModel):
    """Both tickets after a merge."""

    ticket: TicketOut
    primary: TicketOut


def location_out(ticket: Ticket) -> LocationOut | None:
    """The ticket's point, None when it has none (the columns are set together, or not at all)."""
    if ticket.latitude is None or ticket.longitude is None:
        return None
    return LocationOut(latitude=ticket.latitude, longitude=ticket.longitude)


def attachments_out(view: TicketView, links: PhotoLinker | None) -> list[AttachmentOut]:
    """The ticket's photos with signed links; none where no photo store is configured."""
    if links is None:
        return []
    return [
        AttachmentOut(
            id=upload.id,
            kind=upload.kind,
            content_type=upload.content_type,
            width=upload.width,
            height=upload.height,
            url=links.link(upload.photo_key),
            thumbnail_url=links.link(upload.thumbnail_key),
        )
        for upload in view.attachments
    ]


def ticket_out(
    view: TicketView,
    reader: Caller,
    *,
    with_events: bool = True,
    links: PhotoLinker | None = None,
    alias: ResidentAlias | None = None,
) -> TicketOut:
    """A stored ticket as the API shows it to `reader` (only workers see precedents, and residents by `alias`);
    `links` signs photo links."""
    ticket = view.ticket
    sees_precedents = isinstance(reader, Worker)
    return TicketOut(
        id=ticket.id,
        text=ticket.text,
        community=ticket.community,
        building=ticket.building,
        resident_id=resident_id_for(ticket.resident_id, reader, alias),
        status=TicketStatus(ticket.status),
        party=ticket.party,
        confidence=ticket.confidence,
        routing=routing_out(ticket.routing, sees_precedents=sees_precedents),
        attachment_urls=ticket.attachment_urls,
        attachments=attachments_out(view, links),
        location=location_out(ticket),
        contact_phone=contact_phone_for(ticket.contact_phone, reader),
        has_contact_phone=bool(ticket.contact_phone),
        rating=ticket.rating,
        resolution=ticket.resolution,
        created_at=ticket.created_at,
        updated_at=ticket.updated_at,
        priority=ticket.priority,
        urgency=Urgency(ticket.urgency),
        urgency_notice=view.urgency_notice,
        escalation_level=EscalationLevel(ticket.escalation_level),
        sla_due_at=ticket.sla_due_at,
        reporter_count=ticket.reporter_count,
        duplicate_notice=view.duplicate_notice,
        primary_ticket_id=ticket.primary_id or "",
        primary_status=view.primary_status,
        duplicate_ticket_ids=view.duplicate_ids,
        split_from_ticket_id=ticket.split_from_id or "",
        split_ticket_ids=view.split_ids,
        assignee_worker_id=ticket.assignee_worker_id,
        resolved_at=ticket.resolved_at,
        catalog_entry=ticket.catalog_entry,
        waiting_since=ticket.waiting_since,
        sla_paused_seconds=ticket.sla_paused_seconds,
        unread_resident_messages=ticket.unread_resident_messages,
        events=events_out(ticket, reader, alias) if with_events else [],
    )


def events_out(ticket: Ticket, reader: Caller, alias: ResidentAlias | None) -> list[EventOut]:
    """The ticket's history as `reader` may read it (residents' actors by `alias` and precedents for workers)."""
    sees_precedents = isinstance(reader, Worker)
    return [
        EventOut(
            kind=e.kind,
            actor=actor_for(e.actor, reader, alias),
            party=e.party,
            note=history_note_for_reader(e.note, ticket.routing, sees_precedents=sees_precedents),
            from_party=e.from_party,
            to_party=e.to_party,
            at=e.at,
        )
        for e in ticket.events
    ]
