"""The rules a ticket's flows apply before they act: which statuses allow what, and who may act at all."""

from __future__ import annotations

from linli.errors import FailedPrecondition, NotFound
from services.intake.auth import Worker
from services.intake.auth.access import hidden_or_denied
from services.intake.tickets.models import OPEN_STATUSES, Ticket, TicketStatus

# Where a worker may take a ticket on, start it, hand it over, or close it (also while waiting for the resident).
ACCEPTABLE = {TicketStatus.ROUTED, TicketStatus.TRANSFERRED, TicketStatus.REOPENED, TicketStatus.NEEDS_MANUAL}
STARTABLE = {TicketStatus.ACCEPTED}
TRANSFERABLE = {
    TicketStatus.ROUTED,
    TicketStatus.TRANSFERRED,
    TicketStatus.REOPENED,
    TicketStatus.ACCEPTED,
    TicketStatus.IN_PROGRESS,
}
RESOLVABLE = {TicketStatus.ACCEPTED, TicketStatus.IN_PROGRESS, TicketStatus.WAITING_RESIDENT}
# Someone still owes the resident an answer on the message: a merged ticket's problems are its primary's to split.
SPLITTABLE = set(OPEN_STATUSES)
RATEABLE = {TicketStatus.RESOLVED, TicketStatus.CLOSED}
REOPENABLE = {TicketStatus.RESOLVED, TicketStatus.CLOSED}
NOT_SOLVED_SCORE = 2  # a rating at or below this reopens the ticket and escalates it


def authorize(ticket: Ticket, worker: Worker, *, claim_manual: bool = False, dispatcher_may: bool = False) -> None:
    """Call it before any rule about the ticket's state: what a 409 says would tell who cannot see it that the
    ticket exists (and in what state)."""
    if not worker.serves(ticket.community):
        raise NotFound(f"no ticket {ticket.id!r}")
    if ticket.party == worker.party:
        return
    # The manual queue is the dispatchers' to see (it may hold complaints about a party): only they claim from it.
    if claim_manual and ticket.status == TicketStatus.NEEDS_MANUAL.value and worker.is_dispatcher:
        return
    if dispatcher_may and worker.is_dispatcher:
        return
    hidden_or_denied(worker, ticket, f"ticket {ticket.id} belongs to {ticket.party or 'no party'}, not {worker.party}")


def check_status(ticket: Ticket, allowed: set[TicketStatus], verb: str) -> None:
    """FailedPrecondition unless the ticket is in one of the `allowed` statuses (for `verb`)."""
    if TicketStatus(ticket.status) not in allowed:
        raise FailedPrecondition(f"a {ticket.status} ticket cannot be {verb}")
