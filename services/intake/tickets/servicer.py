"""IntakeService over gRPC: translates protos to ticket flows and tickets back to protos."""

from __future__ import annotations

from typing import cast

import grpc
from google.protobuf import json_format

from linli.errors import FieldViolation, InvalidArgument
from linli.proto_time import optional_timestamp, to_timestamp
from linli.v1 import intake_pb2, intake_pb2_grpc, routing_pb2
from services.intake.auth import (
    Authenticator,
    Caller,
    Resident,
    Worker,
    check_claimed_identity,
    check_claimed_resident,
    require_resident,
    require_worker,
)
from services.intake.auth.access import check_visible, scoped_query
from services.intake.messages.flows import MessageFlows
from services.intake.messages.servicer import MessageRpcs
from services.intake.ratelimit import RateLimiter, Scope
from services.intake.tickets.flows import TicketFlows
from services.intake.tickets.models import EscalationLevel, Ticket, TicketEvent, TicketStatus, Urgency
from services.intake.tickets.precedent_privacy import history_note_for_reader, routing_for_reader
from services.intake.tickets.repository import TicketQuery
from services.intake.tickets.resident_privacy import ResidentAlias, actor_for, contact_phone_for, resident_id_for
from services.intake.tickets.validation import Submission
from services.intake.tickets.views import TicketView

_STATUS_TO_PROTO: dict[TicketStatus, intake_pb2.TicketStatus] = {
    status: cast(intake_pb2.TicketStatus, intake_pb2.TicketStatus.Value(f"TICKET_STATUS_{status.name}"))
    for status in TicketStatus
}
_STATUS_FROM_PROTO = {value: status for status, value in _STATUS_TO_PROTO.items()}
_URGENCY_TO_PROTO: dict[Urgency, routing_pb2.Urgency] = {
    urgency: cast(routing_pb2.Urgency, routing_pb2.Urgency.Value(f"URGENCY_{urgency.name}")) for urgency in Urgency
}
_LEVEL_TO_PROTO: dict[EscalationLevel, routing_pb2.EscalationLevel] = {
    level: cast(routing_pb2.EscalationLevel, routing_pb2.EscalationLevel.Value(f"ESCALATION_LEVEL_{level.name}"))
    for level in EscalationLevel
}
_LEVEL_FROM_PROTO = {value: level for level, value in _LEVEL_TO_PROTO.items()}


def routing_decision(ticket: Ticket, *, sees_precedents: bool) -> routing_pb2.RoutingDecision | None:
    """The stored routing decision of a ticket as a proto, None before triage; only workers see its precedents."""
    if ticket.routing is None:
        return None
    shown = routing_for_reader(ticket.routing, sees_precedents=sees_precedents)
    return json_format.ParseDict(shown, routing_pb2.RoutingDecision(), ignore_unknown_fields=True)


def event_to_proto(event: TicketEvent, note: str, actor: str | None = None) -> intake_pb2.TicketEvent:
    """The wire form of a history entry, with its note (and actor) as the reader may read them."""
    return intake_pb2.TicketEvent(
        kind=event.kind,
        actor=event.actor if actor is None else actor,
        note=note,
        at=to_timestamp(event.at),
        from_party=event.from_party,
        to_party=event.to_party,
        party=event.party,
    )


def location_to_proto(ticket: Ticket) -> intake_pb2.GeoPoint | None:
    """The ticket's point as a proto, None (the field left unset) when it has none."""
    if ticket.latitude is None or ticket.longitude is None:
        return None
    return intake_pb2.GeoPoint(latitude=ticket.latitude, longitude=ticket.longitude)


def ticket_to_proto(
    view: TicketView, reader: Caller, *, with_events: bool = True, alias: ResidentAlias | None = None
) -> intake_pb2.Ticket:
    """The wire form of a ticket as `reader` may read it (workers see residents by `alias`); listings leave the
    history out."""
    ticket = view.ticket
    sees = isinstance(reader, Worker)
    return intake_pb2.Ticket(
        id=ticket.id,
        text=ticket.text,
        community=ticket.community,
        building=ticket.building,
        resident_id=resident_id_for(ticket.resident_id, reader, alias),
        contact_phone=contact_phone_for(ticket.contact_phone, reader),
        has_contact_phone=bool(ticket.contact_phone),
        status=_STATUS_TO_PROTO[TicketStatus(ticket.status)],
        party=ticket.party,
        confidence=ticket.confidence,
        routing=routing_decision(ticket, sees_precedents=sees),
        attachment_urls=ticket.attachment_urls,
        rating=ticket.rating,
        resolution=ticket.resolution,
        created_at=to_timestamp(ticket.created_at),
        updated_at=to_timestamp(ticket.updated_at),
        events=[
            event_to_proto(
                e,
                history_note_for_reader(e.note, ticket.routing, sees_precedents=sees),
                actor_for(e.actor, reader, alias),
            )
            for e in ticket.events
        ]
        if with_events
        else [],
        priority=ticket.priority,
        urgency=_URGENCY_TO_PROTO[Urgency(ticket.urgency)],
        urgency_notice=view.urgency_notice,
        escalation_level=_LEVEL_TO_PROTO[EscalationLevel(ticket.escalation_level)],
        sla_due_at=optional_timestamp(ticket.sla_due_at),
        reporter_count=ticket.reporter_count,
        duplicate_notice=view.duplicate_notice,
        primary_ticket_id=ticket.primary_id or "",
        primary_status=_STATUS_TO_PROTO[view.primary_status] if view.primary_status else None,
        duplicate_ticket_ids=view.duplicate_ids,
        split_from_ticket_id=ticket.split_from_id or "",
        split_ticket_ids=view.split_ids,
        waiting_since=optional_timestamp(ticket.waiting_since),
        unread_resident_messages=ticket.unread_resident_messages,
        sla_paused_seconds=ticket.sla_paused_seconds,
        assignee_worker_id=ticket.assignee_worker_id,
        resolved_at=optional_timestamp(ticket.resolved_at),
        catalog_entry=ticket.catalog_entry,
        location=location_to_proto(ticket),
    )


def _check_enum_filters(request: intake_pb2.ListTicketsRequest) -> None:
    """Raises InvalidArgument for an enum number this server does not know: proto3 keeps unknown values, and a
    filter silently dropped would list every ticket."""
    violations = [
        FieldViolation(field, f"unknown value {value}")
        for field, value, known in (
            ("status", request.status, _STATUS_FROM_PROTO),
            ("escalation_level", request.escalation_level, _LEVEL_FROM_PROTO),
        )
        if value and value not in known
    ]
    if violations:
        raise InvalidArgument.for_fields(violations)


class IntakeServicer(intake_pb2_grpc.IntakeServiceServicer):
    """gRPC face of the ticket flows; every call is authenticated by the `authorization` metadata.

    The same rules as over HTTP: residents submit, read, list, rate and reopen their own tickets; workers read and
    act on their party's tickets in their community; a ticket the caller may not see is NOT_FOUND.
    """

    def __init__(
        self,
        flows: TicketFlows,
        authenticator: Authenticator,
        limiter: RateLimiter,
        messages: MessageFlows,
        alias: ResidentAlias | None = None,
    ) -> None:
        self._flows = flows
        self._authenticator = authenticator
        self._limiter = limiter
        self._alias = alias
        self._messages = MessageRpcs(messages, limiter, self._proto)

    def _proto(self, view: TicketView, reader: Caller, *, with_events: bool = True) -> intake_pb2.Ticket:
        return ticket_to_proto(view, reader, with_events=with_events, alias=self._alias)

    def _caller(self, context: grpc.ServicerContext) -> Caller:
        return self._authenticator.identify_metadata(context.invocation_metadata())

    def _worker(self, context: grpc.ServicerContext, worker_id: str = "", party: str = "") -> Worker:
        worker = require_worker(self._caller(context))
        check_claimed_identity(worker, worker_id, party)
        return worker

    def _resident(self, context: grpc.ServicerContext, resident_id: str, scope: Scope | None) -> Resident:
        resident = require_resident(self._caller(context))
        check_claimed_resident(resident, resident_id)
        if scope is not None:
            self._limiter.check(scope, resident.resident_id)
        return resident

    def SubmitTicket(
        self, request: intake_pb2.SubmitTicketRequest, context: grpc.ServicerContext
    ) -> intake_pb2.SubmitTicketResponse:
        # Counted only when a new ticket is stored: a retry with the same idempotency key is not a new submission.
        resident = self._resident(context, request.resident_id, None)
        # Presence, not value, says whether a point was given: (0, 0) is a place, if not in any community.
        located = request.HasField("location")
        view, created = self._flows.submit(
            Submission(
                text=request.text,
                community=request.community,
                resident_id=resident.resident_id,
                building=request.building,
                idempotency_key=request.idempotency_key,
                attachment_urls=tuple(request.attachment_urls),
                attachment_ids=tuple(request.attachment_ids),
                latitude=request.location.latitude if located else None,
                longitude=request.location.longitude if located else None,
                contact_phone=request.contact_phone,
            ),
            admit=lambda: self._limiter.check(Scope.RESIDENT_SUBMIT, resident.resident_id),
        )
        return intake_pb2.SubmitTicketResponse(ticket=self._proto(view, resident), created=created)

    def GetTicket(
        self, request: intake_pb2.GetTicketRequest, context: grpc.ServicerContext
    ) -> intake_pb2.GetTicketResponse:
        caller = self._caller(context)  # first: an anonymous NOT_FOUND would tell which ticket ids exist
        view = self._flows.get(request.ticket_id)
        check_visible(caller, view.ticket)
        return intake_pb2.GetTicketResponse(ticket=self._proto(view, caller))

    def ListTickets(
        self, request: intake_pb2.ListTicketsRequest, context: grpc.ServicerContext
    ) -> intake_pb2.ListTicketsResponse:
        _check_enum_filters(request)
        caller = self._caller(context)
        query = scoped_query(
            caller,
            TicketQuery(
                community=request.community or None,
                party=request.party or None,
                status=_STATUS_FROM_PROTO.get(request.status),
                resident_id=request.resident_id or None,
                page_size=request.page_size or 20,
                page_token=request.page_token,
                escalation_level=_LEVEL_FROM_PROTO.get(request.escalation_level),
                primary_id=request.primary_ticket_id or None,
            ),
        )
        views, next_token = self._flows.list(query)
        return intake_pb2.ListTicketsResponse(
            tickets=[self._proto(view, caller, with_events=False) for view in views], next_page_token=next_token
        )

    def AcceptTicket(
        self, request: intake_pb2.AcceptTicketRequest, context: grpc.ServicerContext
    ) -> intake_pb2.AcceptTicketResponse:
        worker = self._worker(context, request.worker_id, request.party)
        view = self._flows.accept(request.ticket_id, worker)
        return intake_pb2.AcceptTicketResponse(ticket=self._proto(view, worker))

    def StartTicket(
        self, request: intake_pb2.StartTicketRequest, context: grpc.ServicerContext
    ) -> intake_pb2.StartTicketResponse:
        worker = self._worker(context)
        view = self._flows.start(request.ticket_id, worker)
        return intake_pb2.StartTicketResponse(ticket=self._proto(view, worker))

    def TransferTicket(
        self, request: intake_pb2.TransferTicketRequest, context: grpc.ServicerContext
    ) -> intake_pb2.TransferTicketResponse:
        worker = self._worker(context, request.worker_id, request.party)
        view = self._flows.transfer(request.ticket_id, worker, to_party=request.to_party, reason=request.reason)
        return intake_pb2.TransferTicketResponse(ticket=self._proto(view, worker))

    def ResolveTicket(
        self, request: intake_pb2.ResolveTicketRequest, context: grpc.ServicerContext
    ) -> intake_pb2.ResolveTicketResponse:
        worker = self._worker(context, request.worker_id, request.party)
        view = self._flows.resolve(
            request.ticket_id, worker, resolution=request.resolution, attachment_ids=tuple(request.attachment_ids)
        )
        return intake_pb2.ResolveTicketResponse(ticket=self._proto(view, worker))

    def RateTicket(
        self, request: intake_pb2.RateTicketRequest, context: grpc.ServicerContext
    ) -> intake_pb2.RateTicketResponse:
        resident = self._resident(context, request.resident_id, Scope.RESIDENT_WRITE)
        check_visible(resident, self._flows.get(request.ticket_id).ticket)
        view = self._flows.rate(
            request.ticket_id, resident_id=resident.resident_id, score=request.score, comment=request.comment
        )
        return intake_pb2.RateTicketResponse(ticket=self._proto(view, resident))

    def ReopenTicket(
        self, request: intake_pb2.ReopenTicketRequest, context: grpc.ServicerContext
    ) -> intake_pb2.ReopenTicketResponse:
        resident = self._resident(context, request.resident_id, Scope.RESIDENT_WRITE)
        check_visible(resident, self._flows.get(request.ticket_id).ticket)
        view = self._flows.reopen(request.ticket_id, resident_id=resident.resident_id, reason=request.reason)
        return intake_pb2.ReopenTicketResponse(ticket=self._proto(view, resident))

    def MergeTicket(
        self, request: intake_pb2.MergeTicketRequest, context: grpc.ServicerContext
    ) -> intake_pb2.MergeTicketResponse:
        worker = self._worker(context)
        view, primary = self._flows.merge(request.ticket_id, worker, primary_id=request.primary_ticket_id)
        return intake_pb2.MergeTicketResponse(ticket=self._proto(view, worker), primary=self._proto(primary, worker))

    def UnmergeTicket(
        self, request: intake_pb2.UnmergeTicketRequest, context: grpc.ServicerContext
    ) -> intake_pb2.UnmergeTicketResponse:
        worker = self._worker(context)
        view = self._flows.unmerge(request.ticket_id, worker, reason=request.reason)
        return intake_pb2.UnmergeTicketResponse(ticket=self._proto(view, worker))

    def DispatchTicket(
        self, request: intake_pb2.DispatchTicketRequest, context: grpc.ServicerContext
    ) -> intake_pb2.DispatchTicketResponse:
        worker = self._worker(context)
        view = self._flows.dispatch(request.ticket_id, worker, to_party=request.to_party, note=request.note)
        return intake_pb2.DispatchTicketResponse(ticket=self._proto(view, worker))

    def SplitTicket(
        self, request: intake_pb2.SplitTicketRequest, context: grpc.ServicerContext
    ) -> intake_pb2.SplitTicketResponse:
        worker = self._worker(context)
        view = self._flows.split(request.ticket_id, worker, text=request.text)
        return intake_pb2.SplitTicketResponse(ticket=self._proto(view, worker))

    def ListTicketMessages(
        self, request: intake_pb2.ListTicketMessagesRequest, context: grpc.ServicerContext
    ) -> intake_pb2.ListTicketMessagesResponse:
        return self._messages.list(request, self._caller(context))

    def PostTicketMessage(
        self, request: intake_pb2.PostTicketMessageRequest, context: grpc.ServicerContext
    ) -> intake_pb2.PostTicketMessageResponse:
        return self._messages.post(request, self._caller(context))
