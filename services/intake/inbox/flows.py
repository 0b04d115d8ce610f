"""What a worker does with the inbox: read a set page by page, assign a ticket to a colleague, save views, and act on
many tickets at once, each through its own ticket flow and its own transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from sqlalchemy.orm import Session

from linli.errors import FailedPrecondition, FieldViolation, InvalidArgument, LinliError, NotFound, shown_id
from services.intake.auth.access import can_see, hidden_or_denied, scoped_query
from services.intake.auth.identity import Caller, Worker, require_worker, worker_actor
from services.intake.inbox import repository
from services.intake.inbox.models import (
    MAX_PAGE_SIZE,
    MAX_VIEW_NAME_CHARS,
    MAX_VIEWS_PER_WORKER,
    OPEN_OR_WAITING,
    InboxFilters,
    InboxQuery,
    InboxSet,
    InboxSort,
    MalformedRequest,
    SavedView,
    Scope,
)
from services.intake.tickets import repository as tickets
from services.intake.tickets.context import EventKind, FlowContext
from services.intake.tickets.flows import TicketFlows
from services.intake.tickets.models import TicketStatus
from services.intake.tickets.repository import TicketQuery
from services.intake.tickets.validation import check_name, check_text
from services.intake.tickets.views import TicketView, view_of, views_of

MAX_BULK_TICKETS = 100


@dataclass(frozen=True)
class Colleague:
    """A worker a ticket may be given to: their party and the communities they serve (None: every one)."""

    worker_id: str
    party: str
    communities: frozenset[str] | None

    def serves(self, community: str) -> bool:
        """True when the colleague works in `community`."""
        return self.communities is None or community in self.communities


class Colleagues(Protocol):
    """Who a worker id is (intake's server asks the workers' table: inbox/directory.py)."""

    def lookup(self, worker_id: str, *, session: Session) -> Colleague | None:
        """The colleague with this id, None for nobody known (or no longer active)."""
        ...


class ActedBeforeColleagues:
    """For workers the workers' table does not know (a token from `linli token issue`): a colleague is whoever acted
    for one party on its tickets before, in the communities of those tickets (one who never acted cannot be
    assigned a ticket yet)."""

    def lookup(self, worker_id: str, *, session: Session) -> Colleague | None:
        """The worker as their ticket history shows them; None for nobody, or for acts for more than one party."""
        pairs = repository.acted_for(worker_actor(worker_id), session=session)
        parties = {party for party, _ in pairs}
        if len(parties) != 1:
            return None
        return Colleague(worker_id, parties.pop(), frozenset(community for _, community in pairs))


@dataclass(frozen=True)
class InboxPage:
    """One page of a set, the next page's token ('' on the last) and, on the first page, the size of the set."""

    tickets: list[TicketView]
    next_page_token: str
    total: int | None


class BulkAction(StrEnum):
    """What a bulk request does to each ticket."""

    ACCEPT = "accept"
    TRANSFER = "transfer"
    CLOSE = "close"  # resolved, with the one reason as the resolution


@dataclass(frozen=True)
class BulkResult:
    """One ticket's own outcome in a bulk request."""

    ticket_id: str
    ok: bool
    status: str = ""
    error_code: str = ""
    message: str = ""


@dataclass(frozen=True)
class ViewDefinition:
    """What a saved view keeps: a set, its filters and an order."""

    inbox_set: InboxSet
    sort: InboxSort
    filters: InboxFilters


def inbox_query(
    caller: Caller, view: ViewDefinition, *, now: datetime, page_size: int = 20, page_token: str = ""
) -> InboxQuery:
    """The query of a view within the caller's scope (their party's tickets in their communities, a dispatcher's
    manual queue too); 403 for residents, services and a community the worker does not serve. The inbox's pages and
    its exports both start here, so an export holds exactly the tickets the pages show."""
    worker = require_worker(caller)
    scoped = scoped_query(worker, TicketQuery(community=view.filters.community or None))
    scope = Scope(worker.party, scoped.community, scoped.communities, with_manual_queue=worker.is_dispatcher)
    return InboxQuery(view.inbox_set, view.sort, scope, view.filters, worker.worker_id, now, page_size, page_token)


class InboxFlows:
    """The inbox use cases of the HTTP API."""

    def __init__(self, context: FlowContext, ticket_flows: TicketFlows, colleagues: Colleagues) -> None:
        self._context = context
        self._tickets = ticket_flows
        self._colleagues = colleagues

    def page(self, caller: Caller, view: ViewDefinition, *, page_size: int = 20, page_token: str = "") -> InboxPage:
        """One page of a set the caller may see; 403 for residents, services and a community the worker does not
        serve."""
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise InvalidArgument.for_field("page_size", f"must be between 1 and {MAX_PAGE_SIZE}")
        query = inbox_query(caller, view, now=self._context.clock(), page_size=page_size, page_token=page_token)
        with self._context.transaction() as work:
            found, next_token = repository.page(query, session=work.session)
            # Counted once, on the first page: the set's size does not need re-counting at every "more".
            total = None if page_token else repository.count(query, session=work.session)
            return InboxPage(views_of(found, session=work.session), next_token, total)

    def assign(self, ticket_id: str, worker: Worker, *, assignee_worker_id: str, reason: str = "") -> TicketView:
        """Gives an open ticket to a colleague of its party who serves its community ('' takes it back: nobody's)."""
        assignee = assignee_worker_id.strip()
        violations = [*check_name(assignee, "assignee_worker_id", required=False)]
        if reason:
            violations.extend(check_text(reason, "reason"))
        if violations:
            raise InvalidArgument.for_fields(violations)
        with self._context.transaction() as work:
            ticket = tickets.get(ticket_id, session=work.session, for_update=True)
            if not can_see(worker, ticket):
                raise NotFound(f"no ticket {shown_id(ticket_id)}")
            if ticket.party != worker.party and not worker.is_dispatcher:
                hidden_or_denied(worker, ticket, f"ticket {ticket.id} belongs to {ticket.party}, not {worker.party}")
            if TicketStatus(ticket.status) not in OPEN_OR_WAITING or not ticket.party:
                raise FailedPrecondition(f"a {ticket.status} ticket of {ticket.party or 'no party'} cannot be assigned")
            if assignee:
                self._check_colleague(assignee, ticket.party, ticket.community, session=work.session)
            if assignee != ticket.assignee_worker_id:
                ticket.assignee_worker_id = assignee
                note = f"指派给 {assignee}" if assignee else "取消指派"
                note = f"{note}:{reason.strip()}" if reason else note
                self._context.record(ticket, EventKind.ASSIGNED, worker.actor, note=note, party=worker.party)
            return view_of(ticket, session=work.session)

    def _check_colleague(self, assignee: str, party: str, community: str, *, session: Session) -> None:
        colleague = self._colleagues.lookup(assignee, session=session)
        if colleague is None or colleague.party != party or not colleague.serves(community):
            raise InvalidArgument.for_field("assignee_worker_id", f"{assignee} 不是{party}服务{community}的同事")

    def bulk(
        self, worker: Worker, action: BulkAction, ticket_ids: Sequence[str], *, reason: str = "", to_party: str = ""
    ) -> list[BulkResult]:
        """Does `action` to every ticket, each through its own flow and transaction: a ticket its rules refuse (or
        the worker may not see: not found) is reported, the others are still done."""
        if len(ticket_ids) > MAX_BULK_TICKETS:
            raise InvalidArgument.for_field("ticket_ids", f"at most {MAX_BULK_TICKETS} tickets at a time")
        if len(set(ticket_ids)) != len(ticket_ids):
            raise MalformedRequest.for_field("ticket_ids", "names a ticket more than once")
        violations: list[FieldViolation] = []
        if action is not BulkAction.ACCEPT:
            violations.extend(check_text(reason, "reason"))
        if action is BulkAction.TRANSFER and not to_party:
            violations.append(FieldViolation("to_party", "is required to transfer"))
        if violations:
            raise InvalidArgument.for_fields(violations)
        act = self._bulk_step(worker, action, reason=reason, to_party=to_party)
        return [self._one(ticket_id, act) for ticket_id in ticket_ids]

    def _bulk_step(
        self, worker: Worker, action: BulkAction, *, reason: str, to_party: str
    ) -> Callable[[str], TicketView]:
        if action is BulkAction.ACCEPT:
            return lambda ticket_id: self._tickets.accept(ticket_id, worker)
        if action is BulkAction.TRANSFER:
            return lambda ticket_id: self._tickets.transfer(ticket_id, worker, to_party=to_party, reason=reason)
        return lambda ticket_id: self._tickets.resolve(ticket_id, worker, resolution=reason)

    @staticmethod
    def _one(ticket_id: str, act: Callable[[str], TicketView]) -> BulkResult:
        try:
            view = act(ticket_id)
        except LinliError as refused:
            return BulkResult(ticket_id, ok=False, error_code=refused.slug, message=refused.message)
        return BulkResult(ticket_id, ok=True, status=view.ticket.status)

    def views(self, worker: Worker) -> list[SavedView]:
        """The worker's own saved views, oldest first."""
        with self._context.transaction() as work:
            return repository.views_of(worker.worker_id, session=work.session)

    def save_view(self, worker: Worker, name: str, definition: ViewDefinition) -> SavedView:
        """Saves a named view for the worker (1-40 characters, at most 50 views each)."""
        name = name.strip()
        violations = check_name(name, "name", required=True)
        if not violations and len(name) > MAX_VIEW_NAME_CHARS:
            violations = [FieldViolation("name", f"must have at most {MAX_VIEW_NAME_CHARS} characters")]
        if violations:
            raise InvalidArgument.for_fields(violations)
        with self._context.transaction() as work:
            if repository.view_count(worker.worker_id, session=work.session) >= MAX_VIEWS_PER_WORKER:
                raise FailedPrecondition(f"最多保存 {MAX_VIEWS_PER_WORKER} 个视图,请先删除不用的")
            saved = SavedView(
                worker_id=worker.worker_id,
                name=name,
                definition={
                    "set": definition.inbox_set.value,
                    "sort": definition.sort.value,
                    "filters": definition.filters.as_json(),
                },
                created_at=self._context.clock(),
            )
            return repository.add_view(saved, session=work.session)

    def delete_view(self, worker: Worker, view_id: str) -> None:
        """Deletes one of the worker's own views; another's is not found, as if it did not exist."""
        with self._context.transaction() as work:
            if not repository.delete_view(view_id, worker.worker_id, session=work.session):
                raise NotFound(f"no saved view {shown_id(view_id)}")
