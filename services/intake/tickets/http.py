"""The HTTP JSON API for the mini-program, the H5 page and the worker console."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from services.intake.tickets.flows import TicketFlows, WorkerAction
from services.intake.tickets.models import Ticket, TicketStatus
from services.intake.tickets.repository import TicketQuery
from services.intake.tickets.validation import Submission


class _Body(BaseModel):
    # Unknown fields and wrong types are the client's bug: say so rather than guess.
    model_config = ConfigDict(extra="forbid", strict=True)


class SubmitTicketBody(_Body):
    """A resident's complaint or question."""

    text: str = Field(description="What happened, 2-2,000 characters.", examples=["楼道灯坏了一个星期了"])
    community: str = Field(description="Residential community.", examples=["恒康居民区"])
    resident_id: str = Field(description="Opaque id of the resident.")
    building: str = Field("", description="Building, e.g. 3号楼.")
    attachment_urls: list[str] = Field(default_factory=list, description="http(s) links to photos.")
    idempotency_key: str = Field("", description="Same key, same ticket: makes retries safe.")


class WorkerBody(_Body):
    """The acting worker and the party they act for."""

    worker_id: str
    party: str


class TransferBody(WorkerBody):
    """Hand the ticket to another party."""

    to_party: str
    reason: str


class ResolveBody(WorkerBody):
    """Close the ticket with what was done."""

    resolution: str


class RateBody(_Body):
    """The resident's rating."""

    resident_id: str
    score: int = Field(description="1 (not solved) to 5 (very satisfied).")
    comment: str = ""


class PartyScoreOut(BaseModel):
    """A candidate party and its probability."""

    party: str
    probability: float


class SimilarCaseOut(BaseModel):
    """A resolved precedent behind a routing decision."""

    id: str
    complaint: str
    resolution: str
    party: str
    category: str
    score: float


class RoutingOut(BaseModel):
    """The triage decision."""

    party: str
    confidence: float
    abstained: bool
    alternatives: list[PartyScoreOut]
    deciding_signal: str
    rationale: str
    suggested_resolution: str
    category: str
    similar_cases: list[SimilarCaseOut]
    router_version: str


class EventOut(BaseModel):
    """One entry of a ticket's history."""

    kind: str
    actor: str
    note: str
    from_party: str
    to_party: str
    at: datetime


class TicketOut(BaseModel):
    """A ticket as residents and workers see it."""

    id: str
    text: str
    community: str
    building: str
    resident_id: str
    status: TicketStatus
    party: str
    confidence: float
    routing: RoutingOut | None
    attachment_urls: list[str]
    rating: int
    resolution: str
    created_at: datetime
    updated_at: datetime
    events: list[EventOut]


class TicketPageOut(BaseModel):
    """One page of a listing."""

    tickets: list[TicketOut]
    next_page_token: str


def routing_out(stored: dict[str, Any] | None) -> RoutingOut | None:
    """The stored decision (proto JSON form) as the API shows it."""
    if stored is None:
        return None
    signal = stored.get("rationale", {}).get("deciding_signal", "DECIDING_SIGNAL_UNSPECIFIED")
    return RoutingOut(
        party=stored.get("party", ""),
        confidence=stored.get("confidence", 0.0),
        abstained=stored.get("abstained", False),
        alternatives=[
            PartyScoreOut(party=a["party"], probability=a.get("probability", 0.0))
            for a in stored.get("alternatives", [])
        ],
        deciding_signal=signal.removeprefix("DECIDING_SIGNAL_").lower(),
        rationale=stored.get("rationale", {}).get("summary", ""),
        suggested_resolution=stored.get("suggested_resolution", ""),
        category=stored.get("category", ""),
        similar_cases=[
            SimilarCaseOut(
                id=hit["case"].get("id", ""),
                complaint=hit["case"].get("complaint", ""),
                resolution=hit["case"].get("resolution", ""),
                party=hit["case"].get("party", ""),
                category=hit["case"].get("category", ""),
                score=hit.get("score", 0.0),
            )
            for hit in stored.get("similar_cases", [])
        ],
        router_version=stored.get("router_version", ""),
    )


def ticket_out(ticket: Ticket, *, with_events: bool = True) -> TicketOut:
    """A stored ticket as the API shows it."""
    return TicketOut(
        id=ticket.id,
        text=ticket.text,
        community=ticket.community,
        building=ticket.building,
        resident_id=ticket.resident_id,
        status=TicketStatus(ticket.status),
        party=ticket.party,
        confidence=ticket.confidence,
        routing=routing_out(ticket.routing),
        attachment_urls=ticket.attachment_urls,
        rating=ticket.rating,
        resolution=ticket.resolution,
        created_at=ticket.created_at,
        updated_at=ticket.updated_at,
        events=[
            EventOut(kind=e.kind, actor=e.actor, note=e.note, from_party=e.from_party, to_party=e.to_party, at=e.at)
            for e in ticket.events
        ]
        if with_events
        else [],
    )


def ticket_routes(flows: TicketFlows) -> APIRouter:
    """The /v1/tickets routes, bound to one set of flows."""
    router = APIRouter(prefix="/v1/tickets", tags=["tickets"])

    @router.post("", status_code=status.HTTP_201_CREATED, response_model=TicketOut)
    def submit_ticket(
        body: SubmitTicketBody,
        response: Response,
        idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
    ) -> TicketOut:
        """Stores a complaint as a ticket and queues its triage; a retry with the same key returns it again."""
        ticket, created = flows.submit(
            Submission(
                text=body.text,
                community=body.community,
                resident_id=body.resident_id,
                building=body.building,
                idempotency_key=body.idempotency_key or idempotency_key or "",
                attachment_urls=tuple(body.attachment_urls),
            )
        )
        if not created:
            response.status_code = status.HTTP_200_OK
        return ticket_out(ticket)

    @router.get("/{ticket_id}", response_model=TicketOut)
    def get_ticket(ticket_id: str) -> TicketOut:
        """One ticket with its routing decision and history."""
        return ticket_out(flows.get(ticket_id))

    @router.get("", response_model=TicketPageOut)
    def list_tickets(
        community: str | None = None,
        party: str | None = None,
        status: TicketStatus | None = None,
        resident_id: str | None = None,
        page_size: Annotated[int, Query(ge=1, le=100)] = 20,
        page_token: str = "",
    ) -> TicketPageOut:
        """Tickets, newest first, filtered and paged by cursor."""
        tickets, next_token = flows.list(
            TicketQuery(community, party, status, resident_id, page_size=page_size, page_token=page_token)
        )
        return TicketPageOut(tickets=[ticket_out(t, with_events=False) for t in tickets], next_page_token=next_token)

    @router.post("/{ticket_id}/accept", response_model=TicketOut)
    def accept_ticket(ticket_id: str, body: WorkerBody) -> TicketOut:
        """A worker of the ticket's party takes it on."""
        return ticket_out(flows.accept(WorkerAction(ticket_id, body.worker_id, body.party)))

    @router.post("/{ticket_id}/transfer", response_model=TicketOut)
    def transfer_ticket(ticket_id: str, body: TransferBody) -> TicketOut:
        """A worker hands the ticket to another party, with a reason."""
        action = WorkerAction(ticket_id, body.worker_id, body.party)
        return ticket_out(flows.transfer(action, to_party=body.to_party, reason=body.reason))

    @router.post("/{ticket_id}/resolve", response_model=TicketOut)
    def resolve_ticket(ticket_id: str, body: ResolveBody) -> TicketOut:
        """A worker closes the ticket with what was done."""
        action = WorkerAction(ticket_id, body.worker_id, body.party)
        return ticket_out(flows.resolve(action, resolution=body.resolution))

    @router.post("/{ticket_id}/rate", response_model=TicketOut)
    def rate_ticket(ticket_id: str, body: RateBody) -> TicketOut:
        """The resident rates the result; 1-2 reopens the ticket."""
        return ticket_out(flows.rate(ticket_id, resident_id=body.resident_id, score=body.score, comment=body.comment))

    return router
