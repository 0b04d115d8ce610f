"""The conversation over gRPC: ListTicketMessages and PostTicketMessage of IntakeService, as protos."""

from __future__ import annotations

from collections.abc import Callable

from linli.proto_time import to_timestamp
from linli.v1 import intake_pb2
from services.intake.auth import Caller, Resident
from services.intake.messages.flows import MessageFlows, NewMessage
from services.intake.messages.models import Author, TicketMessage
from services.intake.ratelimit import RateLimiter, Scope
from services.intake.tickets.views import TicketView

_AUTHOR_TO_PROTO = {
    Author.RESIDENT: intake_pb2.MESSAGE_AUTHOR_RESIDENT,
    Author.WORKER: intake_pb2.MESSAGE_AUTHOR_WORKER,
}


def message_to_proto(message: TicketMessage) -> intake_pb2.TicketMessage:
    """The wire form of one message."""
    return intake_pb2.TicketMessage(
        id=message.id,
        ticket_id=message.ticket_id,
        author=_AUTHOR_TO_PROTO[Author(message.author)],
        party=message.party,
        text=message.text,
        internal=message.internal,
        asks_resident=message.asks_resident,
        attachment_urls=message.attachment_urls,
        created_at=to_timestamp(message.created_at),
    )


class MessageRpcs:
    """What IntakeServicer's two conversation RPCs do, once it has identified the caller."""

    def __init__(
        self,
        flows: MessageFlows,
        limiter: RateLimiter,
        ticket_to_proto: Callable[[TicketView, Caller], intake_pb2.Ticket],
    ) -> None:
        self._flows = flows
        self._limiter = limiter
        self._ticket_to_proto = ticket_to_proto

    def list(
        self, request: intake_pb2.ListTicketMessagesRequest, caller: Caller
    ) -> intake_pb2.ListTicketMessagesResponse:
        """The caller's view of the ticket's thread."""
        messages = self._flows.thread(request.ticket_id, caller)
        return intake_pb2.ListTicketMessagesResponse(messages=[message_to_proto(m) for m in messages])

    def post(
        self, request: intake_pb2.PostTicketMessageRequest, caller: Caller
    ) -> intake_pb2.PostTicketMessageResponse:
        """Writes the caller's message; a resident's counts against their write rate limit."""
        if isinstance(caller, Resident):
            self._limiter.check(Scope.RESIDENT_WRITE, caller.resident_id)
        new = NewMessage(
            text=request.text,
            internal=request.internal,
            asks_resident=request.asks_resident,
            attachment_urls=tuple(request.attachment_urls),
        )
        posted = self._flows.post(request.ticket_id, caller, new)
        return intake_pb2.PostTicketMessageResponse(
            message=message_to_proto(posted.message), ticket=self._ticket_to_proto(posted.ticket, caller)
        )
