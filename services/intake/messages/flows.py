"""The conversation's use cases: read a ticket's thread, write on it, ask the resident and take their answer.

Each flow is one unit of work on the ticket's row, locked while a message may change its status. Access follows
auth/access.py: the resident reads and writes on their own ticket (never the internal notes), workers who may see the
ticket read everything and write; anyone else gets NOT_FOUND, as for a ticket that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass

from linli.errors import FailedPrecondition, InvalidArgument
from services.intake.auth import Caller, Resident, Worker, require_worker
from services.intake.auth.access import check_visible
from services.intake.messages import repository, waiting
from services.intake.messages.models import Author, TicketMessage
from services.intake.tickets import repository as tickets
from services.intake.tickets.context import EventKind, FlowContext, Work
from services.intake.tickets.models import Ticket, TicketStatus
from services.intake.tickets.validation import check_attachment_urls, check_text
from services.intake.tickets.views import TicketView, view_of

RESIDENT_CANNOT_NOTE = "居民不能发送内部备注"
RESIDENT_CANNOT_ASK = "只有工作人员可以向居民提问"
NOTE_CANNOT_ASK = "内部备注居民看不到,不能用来向居民提问"
ASKED_NOTE = "向居民提问,等待居民答复(办理时限暂停)"
ASKED_RESIDENT_NOTICE = "工作人员想向您了解情况,请回复"


@dataclass(frozen=True)
class NewMessage:
    """What the caller wants to write on a ticket's thread."""

    text: str
    internal: bool = False
    asks_resident: bool = False
    attachment_urls: tuple[str, ...] = ()


@dataclass(frozen=True)
class Posted:
    """The stored message and the ticket after it (waiting after a question, resumed after an answer)."""

    message: TicketMessage
    ticket: TicketView


class MessageFlows:
    """The conversation use cases shared by the gRPC servicer and the HTTP API."""

    def __init__(self, context: FlowContext) -> None:
        self._context = context

    def thread(self, ticket_id: str, caller: Caller) -> list[TicketMessage]:
        """The ticket's messages, oldest first: a resident's without the internal notes. A worker has then read the
        resident's messages: the ticket's unread mark is cleared."""
        with self._context.transaction() as work:
            is_worker = isinstance(caller, Worker)
            ticket = tickets.get(ticket_id, session=work.session, for_update=is_worker)
            check_visible(caller, ticket)
            if is_worker and ticket.unread_resident_messages:
                ticket.unread_resident_messages = 0
            return repository.thread(ticket.id, session=work.session, with_internal=is_worker)

    def post(self, ticket_id: str, caller: Caller, new: NewMessage) -> Posted:
        """Stores the caller's message and tells the other side: a question makes the ticket wait for the resident,
        the resident's message ends the wait; internal notes tell nobody."""
        new = _validated(new, caller)
        with self._context.transaction() as work:
            ticket = tickets.get(ticket_id, session=work.session, for_update=True)
            check_visible(caller, ticket)
            if isinstance(caller, Resident):
                message = self._from_resident(work, ticket, caller, new)
            else:
                message = self._from_worker(work, ticket, require_worker(caller), new)
            return Posted(message, view_of(ticket, session=work.session))

    def _from_resident(self, work: Work, ticket: Ticket, resident: Resident, new: NewMessage) -> TicketMessage:
        message = self._store(work, ticket, new, author=Author.RESIDENT, actor=resident.actor, party="")
        ticket.unread_resident_messages += 1
        resumed = waiting.is_waiting(ticket)
        if resumed:
            waited = waiting.resume(ticket, message.created_at)
            note = f"居民已答复,恢复办理;办理时限顺延 {waiting.waited_text(waited)}"
            self._context.record(ticket, EventKind.RESIDENT_ANSWERED, resident.actor, note=note)
        ticket.updated_at = message.created_at
        self._context.notify(work, "resident_message", ticket, message_id=message.id, resumed=resumed)
        return message

    def _from_worker(self, work: Work, ticket: Ticket, worker: Worker, new: NewMessage) -> TicketMessage:
        # A second question while the ticket waits is one more message: the clock stopped at the first.
        starts_wait = new.asks_resident and not waiting.is_waiting(ticket)
        if starts_wait and TicketStatus(ticket.status) not in waiting.ASKABLE:
            raise FailedPrecondition(f"a {ticket.status} ticket cannot wait for the resident")
        message = self._store(work, ticket, new, author=Author.WORKER, actor=worker.actor, party=worker.party)
        # Whoever writes on the thread has read it.
        ticket.unread_resident_messages = 0
        if new.internal:
            return message
        if starts_wait:
            waiting.pause(ticket, message.created_at)
            self._context.record(ticket, EventKind.ASKED_RESIDENT, worker.actor, note=ASKED_NOTE, party=worker.party)
        ticket.updated_at = message.created_at
        self._context.notify(
            work,
            "worker_message",
            ticket,
            message_id=message.id,
            asks_resident=new.asks_resident,
            from_party=worker.party,
            # What the resident's subscription message says: never the text, which webhook receivers would get too.
            note=ASKED_RESIDENT_NOTICE if new.asks_resident else "",
        )
        return message

    def _store(
        self, work: Work, ticket: Ticket, new: NewMessage, *, author: Author, actor: str, party: str
    ) -> TicketMessage:
        message = TicketMessage(
            ticket_id=ticket.id,
            author=author.value,
            actor=actor,
            party=party,
            text=new.text,
            internal=new.internal,
            asks_resident=new.asks_resident,
            attachment_urls=list(new.attachment_urls),
            created_at=self._context.clock(),
        )
        return repository.add(message, session=work.session)


def _validated(new: NewMessage, caller: Caller) -> NewMessage:
    """The message trimmed, or InvalidArgument naming every bad field (in Chinese where a resident reads it)."""
    violations = [*check_text(new.text, "text"), *check_attachment_urls(new.attachment_urls)]
    if isinstance(caller, Resident):
        if new.internal:
            raise InvalidArgument.for_field("internal", RESIDENT_CANNOT_NOTE)
        if new.asks_resident:
            raise InvalidArgument.for_field("asks_resident", RESIDENT_CANNOT_ASK)
    elif new.internal and new.asks_resident:
        raise InvalidArgument.for_field("asks_resident", NOTE_CANNOT_ASK)
    if violations:
        raise InvalidArgument.for_fields(violations)
    return NewMessage(new.text.strip(), new.internal, new.asks_resident, tuple(new.attachment_urls))
