"""What can happen to a ticket: each flow is one unit of work, and triage is queued only after the commit."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from google.protobuf import json_format
from sqlalchemy.exc import IntegrityError

from linli.errors import AlreadyExists, FailedPrecondition, FieldViolation, InvalidArgument, PermissionDenied
from linli.parties import is_party_id
from linli.v1 import routing_pb2
from services.intake.database import Database
from services.intake.tickets import repository
from services.intake.tickets.models import Ticket, TicketEvent, TicketStatus
from services.intake.tickets.repository import TicketQuery
from services.intake.tickets.validation import Submission, check_name, check_text, validate_submission

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]
SYSTEM = "system"

# Where a worker may take a ticket on, hand it over, or close it.
ACCEPTABLE = {TicketStatus.ROUTED, TicketStatus.TRANSFERRED, TicketStatus.REOPENED, TicketStatus.NEEDS_MANUAL}
TRANSFERABLE = ACCEPTABLE | {TicketStatus.ACCEPTED, TicketStatus.IN_PROGRESS}
RESOLVABLE = {TicketStatus.ACCEPTED, TicketStatus.IN_PROGRESS}
RATEABLE = {TicketStatus.RESOLVED, TicketStatus.CLOSED}
NOT_SOLVED_SCORE = 2  # a rating at or below this reopens the ticket


def utc_now() -> datetime:
    """The real clock."""
    return datetime.now(UTC)


class TriageQueue(Protocol):
    """Where stored tickets wait for triage."""

    def enqueue(self, ticket_id: str) -> None:
        """Queues the triage of one ticket; may raise if the broker is down."""
        ...


@dataclass(frozen=True)
class WorkerAction:
    """Who acts on which ticket: a worker, for a party."""

    ticket_id: str
    worker_id: str
    party: str

    @property
    def actor(self) -> str:
        """How the worker appears in the history."""
        return f"worker:{self.worker_id}"


class TicketFlows:
    """The ticket use cases, shared by the gRPC servicer, the HTTP API and the triage task."""

    def __init__(self, database: Database, queue: TriageQueue, clock: Clock = utc_now) -> None:
        self._database = database
        self._queue = queue
        self._clock = clock

    def submit(self, submission: Submission) -> tuple[Ticket, bool]:
        """Stores a ticket, then queues its triage; returns (ticket, created).

        The ticket is committed before anything is published: if the broker is down the ticket stays RECEIVED and
        is not lost (the periodic sweep re-queues it).
        """
        submission = validate_submission(submission)
        try:
            with self._database.unit_of_work() as session:
                if submission.idempotency_key:
                    earlier = repository.by_idempotency_key(submission.idempotency_key, session=session)
                    if earlier is not None:
                        return self._replay(earlier, submission), False
                ticket = repository.add(self._new_ticket(submission), session=session)
        except IntegrityError:
            # A concurrent retry with the same key won the insert: answer with its ticket.
            with self._database.unit_of_work() as session:
                earlier = repository.by_idempotency_key(submission.idempotency_key, session=session)
            if earlier is None:
                raise
            return self._replay(earlier, submission), False
        self._publish(ticket.id)
        return ticket, True

    def get(self, ticket_id: str) -> Ticket:
        """One ticket with its history."""
        with self._database.unit_of_work() as session:
            return repository.get(ticket_id, session=session)

    def list(self, query: TicketQuery) -> tuple[list[Ticket], str]:
        """One page of tickets and the next page's token."""
        if not 1 <= query.page_size <= 100:
            raise InvalidArgument.for_field("page_size", "must be between 1 and 100")
        with self._database.unit_of_work() as session:
            return repository.list_page(query, session=session)

    def accept(self, action: WorkerAction) -> Ticket:
        """The worker's party takes the ticket on; a ticket in the manual queue is claimed by that party."""
        self._check_action(action)
        with self._database.unit_of_work() as session:
            ticket = repository.get(action.ticket_id, session=session, for_update=True)
            status = TicketStatus(ticket.status)
            if status is not TicketStatus.NEEDS_MANUAL:
                self._check_party(ticket, action)
            self._check_status(ticket, ACCEPTABLE, "accepted")
            event = self._event("accepted", action.actor, from_party=ticket.party, to_party=action.party)
            ticket.party, ticket.status = action.party, TicketStatus.ACCEPTED.value
            repository.add_event(ticket, event, session=session)
            return ticket

    def transfer(self, action: WorkerAction, *, to_party: str, reason: str) -> Ticket:
        """Hands the ticket to another party; the reason is kept as a routing correction."""
        self._check_action(action)
        violations = check_text(reason, "reason")
        if not is_party_id(to_party):
            violations.append(FieldViolation("to_party", "must be a party id such as street_office"))
        if violations:
            raise InvalidArgument.for_fields(violations)
        if to_party == action.party:
            raise InvalidArgument.for_field("to_party", "must differ from the acting party")
        with self._database.unit_of_work() as session:
            ticket = repository.get(action.ticket_id, session=session, for_update=True)
            if TicketStatus(ticket.status) is not TicketStatus.NEEDS_MANUAL:
                self._check_party(ticket, action)
            self._check_status(ticket, TRANSFERABLE, "transferred")
            event = self._event(
                "transferred", action.actor, note=reason.strip(), from_party=ticket.party, to_party=to_party
            )
            ticket.party, ticket.status = to_party, TicketStatus.TRANSFERRED.value
            repository.add_event(ticket, event, session=session)
            return ticket

    def resolve(self, action: WorkerAction, *, resolution: str) -> Ticket:
        """Closes the ticket with what was done."""
        self._check_action(action)
        violations = check_text(resolution, "resolution")
        if violations:
            raise InvalidArgument.for_fields(violations)
        with self._database.unit_of_work() as session:
            ticket = repository.get(action.ticket_id, session=session, for_update=True)
            self._check_party(ticket, action)
            self._check_status(ticket, RESOLVABLE, "resolved")
            ticket.resolution, ticket.status = resolution.strip(), TicketStatus.RESOLVED.value
            repository.add_event(
                ticket, self._event("resolved", action.actor, note=resolution.strip()), session=session
            )
            return ticket

    def rate(self, ticket_id: str, *, resident_id: str, score: int, comment: str = "") -> Ticket:
        """The resident's rating: a good one closes the ticket, a bad one ("not solved") reopens it."""
        if not 1 <= score <= 5:
            raise InvalidArgument.for_field("score", "must be between 1 and 5")
        if comment and (violations := check_text(comment, "comment")):
            raise InvalidArgument.for_fields(violations)
        with self._database.unit_of_work() as session:
            ticket = repository.get(ticket_id, session=session, for_update=True)
            if ticket.resident_id != resident_id:
                raise PermissionDenied("only the resident who raised a ticket can rate it")
            self._check_status(ticket, RATEABLE, "rated")
            ticket.rating = score
            reopened = score <= NOT_SOLVED_SCORE
            ticket.status = (TicketStatus.REOPENED if reopened else TicketStatus.CLOSED).value
            note = f"{score}/5 {comment.strip()}".strip()
            repository.add_event(ticket, self._event("rated", f"resident:{resident_id}", note=note), session=session)
            if reopened:
                repository.add_event(ticket, self._event("reopened", SYSTEM, note="居民评价未解决"), session=session)
            return ticket

    def pending_triage(self, ticket_id: str) -> Ticket | None:
        """The ticket if it still waits for triage; None once triaged (so a repeated task does nothing)."""
        with self._database.unit_of_work() as session:
            ticket = repository.get(ticket_id, session=session)
            return ticket if ticket.status == TicketStatus.RECEIVED.value else None

    def record_triage(self, ticket_id: str, decision: routing_pb2.RoutingDecision) -> bool:
        """Stores a routing decision on a RECEIVED ticket; returns False if it was already triaged."""
        with self._database.unit_of_work() as session:
            ticket = repository.get(ticket_id, session=session, for_update=True)
            if ticket.status != TicketStatus.RECEIVED.value:
                return False
            ticket.routing = json_format.MessageToDict(decision, preserving_proto_field_name=True)
            ticket.confidence = decision.confidence
            if decision.abstained:
                ticket.status = TicketStatus.NEEDS_MANUAL.value
                event = self._event("needs_manual", SYSTEM, note=decision.rationale.summary)
            else:
                ticket.party, ticket.status = decision.party, TicketStatus.ROUTED.value
                event = self._event("routed", SYSTEM, note=decision.rationale.summary, to_party=decision.party)
            repository.add_event(ticket, event, session=session)
            return True

    def send_to_manual(self, ticket_id: str, *, reason: str) -> bool:
        """Puts a RECEIVED ticket in the manual queue (triage failed for good); False if already triaged."""
        with self._database.unit_of_work() as session:
            ticket = repository.get(ticket_id, session=session, for_update=True)
            if ticket.status != TicketStatus.RECEIVED.value:
                return False
            ticket.status = TicketStatus.NEEDS_MANUAL.value
            repository.add_event(ticket, self._event("needs_manual", SYSTEM, note=reason), session=session)
            return True

    def _new_ticket(self, submission: Submission) -> Ticket:
        now = self._clock()
        ticket = Ticket(
            text=submission.text,
            community=submission.community,
            building=submission.building,
            resident_id=submission.resident_id,
            status=TicketStatus.RECEIVED.value,
            attachment_urls=list(submission.attachment_urls),
            idempotency_key=submission.idempotency_key or None,
            created_at=now,
            updated_at=now,
        )
        ticket.events.append(self._event("received", f"resident:{submission.resident_id}"))
        return ticket

    @staticmethod
    def _replay(earlier: Ticket, submission: Submission) -> Ticket:
        same = (earlier.text, earlier.community, earlier.resident_id) == (
            submission.text,
            submission.community,
            submission.resident_id,
        )
        if not same:
            raise AlreadyExists("idempotency_key was already used for a different submission")
        return earlier

    def _publish(self, ticket_id: str) -> None:
        try:
            self._queue.enqueue(ticket_id)
        except Exception:
            # The ticket is committed; the sweep re-queues RECEIVED tickets, so a broker outage delays, never loses.
            logger.exception("could not queue triage; the ticket stays received", extra={"ticket_id": ticket_id})

    def _event(self, kind: str, actor: str, *, note: str = "", from_party: str = "", to_party: str = "") -> TicketEvent:
        return TicketEvent(
            kind=kind, actor=actor, note=note, from_party=from_party, to_party=to_party, at=self._clock()
        )

    @staticmethod
    def _check_action(action: WorkerAction) -> None:
        violations = [
            *check_name(action.worker_id, "worker_id", required=True),
            *check_name(action.party, "party", required=True),
        ]
        if violations:
            raise InvalidArgument.for_fields(violations)

    @staticmethod
    def _check_party(ticket: Ticket, action: WorkerAction) -> None:
        if ticket.party != action.party:
            raise PermissionDenied(f"ticket {ticket.id} belongs to {ticket.party or 'no party'}, not {action.party}")

    @staticmethod
    def _check_status(ticket: Ticket, allowed: set[TicketStatus], verb: str) -> None:
        if TicketStatus(ticket.status) not in allowed:
            raise FailedPrecondition(f"a {ticket.status} ticket cannot be {verb}")
