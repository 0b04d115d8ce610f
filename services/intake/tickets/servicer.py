"""IntakeService over gRPC: translates protos to ticket flows and tickets back to protos."""

from __future__ import annotations

from typing import cast

import grpc
from google.protobuf import json_format

from linli.proto_time import to_timestamp
from linli.v1 import intake_pb2, intake_pb2_grpc, routing_pb2
from services.intake.tickets.flows import TicketFlows, WorkerAction
from services.intake.tickets.models import Ticket, TicketEvent, TicketStatus
from services.intake.tickets.repository import TicketQuery
from services.intake.tickets.validation import Submission

_STATUS_TO_PROTO: dict[TicketStatus, intake_pb2.TicketStatus] = {
    status: cast(intake_pb2.TicketStatus, intake_pb2.TicketStatus.Value(f"TICKET_STATUS_{status.name}"))
    for status in TicketStatus
}
_STATUS_FROM_PROTO = {value: status for status, value in _STATUS_TO_PROTO.items()}


def routing_decision(ticket: Ticket) -> routing_pb2.RoutingDecision | None:
    """The stored routing decision of a ticket as a proto, None before triage."""
    if ticket.routing is None:
        return None
    return json_format.ParseDict(ticket.routing, routing_pb2.RoutingDecision(), ignore_unknown_fields=True)


def event_to_proto(event: TicketEvent) -> intake_pb2.TicketEvent:
    """The wire form of a history entry."""
    return intake_pb2.TicketEvent(
        kind=event.kind,
        actor=event.actor,
        note=event.note,
        at=to_timestamp(event.at),
        from_party=event.from_party,
        to_party=event.to_party,
    )


def ticket_to_proto(ticket: Ticket, *, with_events: bool = True) -> intake_pb2.Ticket:
    """The wire form of a ticket; listings leave the history out."""
    return intake_pb2.Ticket(
        id=ticket.id,
        text=ticket.text,
        community=ticket.community,
        building=ticket.building,
        resident_id=ticket.resident_id,
        status=_STATUS_TO_PROTO[TicketStatus(ticket.status)],
        party=ticket.party,
        confidence=ticket.confidence,
        routing=routing_decision(ticket),
        attachment_urls=ticket.attachment_urls,
        rating=ticket.rating,
        resolution=ticket.resolution,
        created_at=to_timestamp(ticket.created_at),
        updated_at=to_timestamp(ticket.updated_at),
        events=[event_to_proto(event) for event in ticket.events] if with_events else [],
    )


class IntakeServicer(intake_pb2_grpc.IntakeServiceServicer):
    """Serves tickets to other services and to clients that speak gRPC."""

    def __init__(self, flows: TicketFlows) -> None:
        self._flows = flows

    def SubmitTicket(
        self, request: intake_pb2.SubmitTicketRequest, context: grpc.ServicerContext
    ) -> intake_pb2.SubmitTicketResponse:
        ticket, created = self._flows.submit(
            Submission(
                text=request.text,
                community=request.community,
                resident_id=request.resident_id,
                building=request.building,
                idempotency_key=request.idempotency_key,
                attachment_urls=tuple(request.attachment_urls),
            )
        )
        return intake_pb2.SubmitTicketResponse(ticket=ticket_to_proto(ticket), created=created)

    def GetTicket(
        self, request: intake_pb2.GetTicketRequest, context: grpc.ServicerContext
    ) -> intake_pb2.GetTicketResponse:
        return intake_pb2.GetTicketResponse(ticket=ticket_to_proto(self._flows.get(request.ticket_id)))

    def ListTickets(
        self, request: intake_pb2.ListTicketsRequest, context: grpc.ServicerContext
    ) -> intake_pb2.ListTicketsResponse:
        tickets, next_token = self._flows.list(
            TicketQuery(
                community=request.community or None,
                party=request.party or None,
                status=_STATUS_FROM_PROTO.get(request.status),
                resident_id=request.resident_id or None,
                page_size=request.page_size or 20,
                page_token=request.page_token,
            )
        )
        return intake_pb2.ListTicketsResponse(
            tickets=[ticket_to_proto(t, with_events=False) for t in tickets], next_page_token=next_token
        )

    def AcceptTicket(
        self, request: intake_pb2.AcceptTicketRequest, context: grpc.ServicerContext
    ) -> intake_pb2.AcceptTicketResponse:
        ticket = self._flows.accept(WorkerAction(request.ticket_id, request.worker_id, request.party))
        return intake_pb2.AcceptTicketResponse(ticket=ticket_to_proto(ticket))

    def TransferTicket(
        self, request: intake_pb2.TransferTicketRequest, context: grpc.ServicerContext
    ) -> intake_pb2.TransferTicketResponse:
        ticket = self._flows.transfer(
            WorkerAction(request.ticket_id, request.worker_id, request.party),
            to_party=request.to_party,
            reason=request.reason,
        )
        return intake_pb2.TransferTicketResponse(ticket=ticket_to_proto(ticket))

    def ResolveTicket(
        self, request: intake_pb2.ResolveTicketRequest, context: grpc.ServicerContext
    ) -> intake_pb2.ResolveTicketResponse:
        ticket = self._flows.resolve(
            WorkerAction(request.ticket_id, request.worker_id, request.party), resolution=request.resolution
        )
        return intake_pb2.ResolveTicketResponse(ticket=ticket_to_proto(ticket))

    def RateTicket(
        self, request: intake_pb2.RateTicketRequest, context: grpc.ServicerContext
    ) -> intake_pb2.RateTicketResponse:
        ticket = self._flows.rate(
            request.ticket_id, resident_id=request.resident_id, score=request.score, comment=request.comment
        )
        return intake_pb2.RateTicketResponse(ticket=ticket_to_proto(ticket))
