"""Reading a ticket's callback number (联系电话) in full: a worker who may see the ticket gets it only once the audit
log has recorded the read (actor, time, ticket, field, the resident's pseudonym); if that record cannot be written,
no number. The resident reads their own without a record: nothing is disclosed to anyone else.

A worker reads at most LINLI_RATE_CONTACT_REVEALS_PER_HOUR numbers per sliding hour (a stolen worker token must not
walk the whole compound's phones): over it, 429 with Retry-After, no number, and the refusal in the audit log. The
same ticket again within the hour is not counted: calling one resident back several times is ordinary work. Like
every rate limit, it lets reads through (and logs a warning) while its Redis is down."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from linli.errors import RateLimited, Unavailable
from services.intake.auth.access import check_visible
from services.intake.auth.identity import Caller, Resident, Worker, require_worker
from services.intake.ratelimit import RateLimiter, Scope
from services.intake.tickets import repository
from services.intake.tickets.context import FlowContext

# Told of a worker's read before the number is handed out: (actor, resident_id, ticket_id). The audit log's
# personal_data_read plugs in here; it raises Unavailable when it cannot record, and the number is then withheld.
ContactReadRecorder = Callable[[str, str, str], None]
# Told of a worker's read refused over the limit: (actor, resident_id, ticket_id); best effort, never raises.
ContactRefusalRecorder = Callable[[str, str, str], None]


def no_audit_log(_actor: str, _resident_id: str, _ticket_id: str) -> None:
    """Where no audit log is configured, a worker's read cannot be recorded: so the number is not given."""
    raise Unavailable("审计日志不可用,暂时无法查看联系电话")


def no_refusal_log(_actor: str, _resident_id: str, _ticket_id: str) -> None:
    """Where no audit log is configured, a refusal goes unrecorded (it discloses nothing)."""


@dataclass(frozen=True)
class ContactPhone:
    """A ticket's callback number, '' when the resident gave none."""

    ticket_id: str
    contact_phone: str


class ContactFlows:
    """The full callback number, for the ticket's resident and for workers who may see the ticket (recorded)."""

    def __init__(
        self,
        context: FlowContext,
        on_read: ContactReadRecorder = no_audit_log,
        *,
        limiter: RateLimiter | None = None,
        on_refused: ContactRefusalRecorder = no_refusal_log,
    ) -> None:
        self._context = context
        self._on_read = on_read
        self._limiter = limiter or RateLimiter.unlimited()
        self._on_refused = on_refused

    def read(self, ticket_id: str, caller: Caller) -> ContactPhone:
        """The number; NotFound when the caller may not see the ticket (as for tickets), PermissionDenied for a
        service, RateLimited when the worker has read too many numbers lately, Unavailable when a worker's read
        cannot be recorded."""
        with self._context.transaction() as work:
            ticket = repository.get(ticket_id, session=work.session)
            check_visible(caller, ticket)
            phone, resident_id = ticket.contact_phone, ticket.resident_id
        if isinstance(caller, Resident):
            return ContactPhone(ticket_id, phone)
        worker = require_worker(caller)
        if phone:
            self._admit(worker, resident_id, ticket_id)
            # Recorded before the number leaves the process: an unrecorded read must not happen.
            self._on_read(worker.actor, resident_id, ticket_id)
        return ContactPhone(ticket_id, phone)

    def _admit(self, worker: Worker, resident_id: str, ticket_id: str) -> None:
        """Counts the read against the worker's limit (a ticket once per window); over it, records the refusal."""
        try:
            self._limiter.check_once(Scope.WORKER_CONTACT, worker.actor, ticket_id)
        except RateLimited:
            self._on_refused(worker.actor, resident_id, ticket_id)
            raise
