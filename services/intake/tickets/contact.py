"""Reading a ticket's callback number (联系电话) in full: a worker who may see the ticket gets it only once the audit
log has recorded the read (actor, time, ticket, field, the resident's pseudonym); if that record cannot be written,
no number. The resident reads their own without a record: nothing is disclosed to anyone else."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from linli.errors import Unavailable
from services.intake.auth.access import check_visible
from services.intake.auth.identity import Caller, Resident, require_worker
from services.intake.tickets import repository
from services.intake.tickets.context import FlowContext

# Told of a worker's read before the number is handed out: (actor, resident_id, ticket_id). The audit log's
# personal_data_read plugs in here; it raises Unavailable when it cannot record, and the number is then withheld.
ContactReadRecorder = Callable[[str, str, str], None]


def no_audit_log(_actor: str, _resident_id: str, _ticket_id: str) -> None:
    """Where no audit log is configured, a worker's read cannot be recorded: so the number is not given."""
    raise Unavailable("审计日志不可用,暂时无法查看联系电话")


@dataclass(frozen=True)
class ContactPhone:
    """A ticket's callback number, '' when the resident gave none."""

    ticket_id: str
    contact_phone: str


class ContactFlows:
    """The full callback number, for the ticket's resident and for workers who may see the ticket (recorded)."""

    def __init__(self, context: FlowContext, on_read: ContactReadRecorder = no_audit_log) -> None:
        self._context = context
        self._on_read = on_read

    def read(self, ticket_id: str, caller: Caller) -> ContactPhone:
        """The number; NotFound when the caller may not see the ticket (as for tickets), PermissionDenied for a
        service, Unavailable when a worker's read cannot be recorded."""
        with self._context.transaction() as work:
            ticket = repository.get(ticket_id, session=work.session)
            check_visible(caller, ticket)
            phone, resident_id = ticket.contact_phone, ticket.resident_id
        if isinstance(caller, Resident):
            return ContactPhone(ticket_id, phone)
        worker = require_worker(caller)
        if phone:
            # Recorded before the number leaves the process: an unrecorded read must not happen.
            self._on_read(worker.actor, resident_id, ticket_id)
        return ContactPhone(ticket_id, phone)
