"""The conversation over HTTP: GET/POST /v1/tickets/{id}/messages for the mini-program, the H5 page and the console."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from services.intake.auth import Resident
from services.intake.auth.http import CallerDep
from services.intake.messages.flows import MessageFlows, NewMessage
from services.intake.messages.models import Author, TicketMessage
from services.intake.ratelimit import RateLimiter, Scope
from services.intake.tickets.api_shapes import PhotoLinker, TicketOut, ticket_out
from services.intake.tickets.resident_privacy import ResidentAlias


class NewMessageBody(BaseModel):
    """A message to write on the ticket's thread."""

    model_config = ConfigDict(extra="forbid", strict=True)

    text: str = Field(description="2 to 2,000 characters after trimming, at least 2 of them visible.")
    internal: bool = Field(False, description="Workers only: a note only workers read.")
    asks_resident: bool = Field(
        False, description="Workers only: a question; the ticket waits for the resident's answer, its SLA paused."
    )
    attachment_urls: list[str] = Field(default_factory=list, description="At most 9 http(s) photo links.")


class TicketMessageOut(BaseModel):
    """One message of a ticket's conversation."""

    id: str
    ticket_id: str
    author: Author
    party: str = Field(description="The party a worker wrote for; empty for the resident.")
    text: str
    internal: bool = Field(description="A workers' note; residents never receive these.")
    asks_resident: bool = Field(description="A worker's question that made the ticket wait for the resident.")
    attachment_urls: list[str]
    created_at: datetime


class TicketMessageListOut(BaseModel):
    """The thread, oldest first."""

    messages: list[TicketMessageOut]


class PostedMessageOut(TicketMessageOut):
    """The stored message, with the ticket after it (waiting after a question, resumed after the answer)."""

    ticket: TicketOut


def message_out(message: TicketMessage) -> TicketMessageOut:
    """A stored message as the API shows it."""
    return TicketMessageOut(
        id=message.id,
        ticket_id=message.ticket_id,
        author=Author(message.author),
        party=message.party,
        text=message.text,
        internal=message.internal,
        asks_resident=message.asks_resident,
        attachment_urls=message.attachment_urls,
        created_at=message.created_at,
    )


def message_routes(
    flows: MessageFlows, limiter: RateLimiter, links: PhotoLinker | None = None, alias: ResidentAlias | None = None
) -> APIRouter:
    """The /v1/tickets/{id}/messages routes. The resident reads and writes on their own ticket (no internal notes);
    workers who may see the ticket read all of it and write; anyone else gets 404, as for a missing ticket. `links`
    signs the photo links of the ticket a post returns (the pages re-render it: without them its photos vanish)."""
    router = APIRouter(prefix="/v1/tickets", tags=["messages"])

    @router.get("/{ticket_id}/messages", response_model=TicketMessageListOut)
    def list_messages(ticket_id: str, caller: CallerDep) -> TicketMessageListOut:
        """The ticket's conversation, oldest first; a worker reading it clears the ticket's unread mark."""
        return TicketMessageListOut(messages=[message_out(m) for m in flows.thread(ticket_id, caller)])

    @router.post("/{ticket_id}/messages", status_code=status.HTTP_201_CREATED, response_model=PostedMessageOut)
    def post_message(ticket_id: str, body: NewMessageBody, caller: CallerDep) -> PostedMessageOut:
        """Writes on the ticket's conversation. A worker's question (`asks_resident`) makes an open ticket wait
        for the resident with its SLA paused (409 on a ticket not open); the resident's message ends the wait."""
        if isinstance(caller, Resident):
            limiter.check(Scope.RESIDENT_WRITE, caller.resident_id)
        new = NewMessage(body.text, body.internal, body.asks_resident, tuple(body.attachment_urls))
        posted = flows.post(ticket_id, caller, new)
        ticket = ticket_out(posted.ticket, caller, links=links, alias=alias)
        return PostedMessageOut(**message_out(posted.message).model_dump(), ticket=ticket)

    return router
