"""The HTTP JSON API for the mini-program, the H5 page and the worker console (shapes: api_shapes.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response, status
from starlette.concurrency import run_in_threadpool

from services.intake.auth import Caller, check_claimed_identity, check_claimed_resident
from services.intake.auth.access import check_visible, scoped_query
from services.intake.auth.http import CallerDep, ResidentDep, WorkerDep
from services.intake.ratelimit import RateLimiter, Scope
from services.intake.tickets.api_bodies import (
    DispatchBody,
    MergeBody,
    RateBody,
    ReopenBody,
    ResolveBody,
    SplitBody,
    SubmitTicketBody,
    TransferBody,
    UnmergeBody,
    WorkerBody,
)
from services.intake.tickets.api_shapes import (
    ContactOut,
    MergeOut,
    PhotoLinker,
    TicketOut,
    TicketPageOut,
    ticket_out,
)
from services.intake.tickets.contact import ContactFlows
from services.intake.tickets.flows import TicketFlows
from services.intake.tickets.models import EscalationLevel, TicketStatus
from services.intake.tickets.repository import TicketQuery
from services.intake.tickets.resident_privacy import ResidentAlias
from services.intake.tickets.validation import Submission
from services.intake.tickets.views import TicketView

# Turns a ticket view into its JSON shape (events or not), with the photo links of the app.
Render = Callable[..., TicketOut]


def ticket_routes(
    flows: TicketFlows,
    limiter: RateLimiter,
    links: PhotoLinker | None = None,
    alias: ResidentAlias | None = None,
    contact: ContactFlows | None = None,
) -> APIRouter:
    """The /v1/tickets routes, bound to one set of flows; callers are identified by their bearer token.

    Residents submit, read, list, rate and reopen their own tickets; workers read and act on their party's tickets
    in their community. A ticket the caller may not see is 404, as if it did not exist.
    """
    router = APIRouter(prefix="/v1/tickets", tags=["tickets"])

    def out(view: TicketView, reader: Caller, *, with_events: bool = True) -> TicketOut:
        return ticket_out(view, reader, with_events=with_events, links=links, alias=alias)

    _add_submission_route(router, flows, limiter, out)
    _add_read_routes(router, flows, out)
    _add_contact_route(router, contact or ContactFlows(flows.context, limiter=limiter))
    _add_worker_routes(router, flows, out)
    _add_resident_routes(router, flows, limiter, out)
    return router


def _add_submission_route(router: APIRouter, flows: TicketFlows, limiter: RateLimiter, out: Render) -> None:
    # Async, with the blocking part (the transaction, the rate-limit counter, the publish) on one worker thread:
    # a sync endpoint would hand off twice, once to run and once more to validate its answer.
    @router.post("", status_code=status.HTTP_201_CREATED, response_model=TicketOut)
    async def submit_ticket(
        body: SubmitTicketBody,
        response: Response,
        resident: ResidentDep,
        idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
    ) -> TicketOut:
        """Stores the resident's complaint as a ticket and queues its triage; a retry with the same key returns it."""
        check_claimed_resident(resident, body.resident_id)
        submission = Submission(
            text=body.text,
            community=body.community,
            resident_id=resident.resident_id,
            building=body.building,
            idempotency_key=body.idempotency_key or idempotency_key or "",
            attachment_urls=tuple(body.attachment_urls),
            attachment_ids=tuple(body.attachment_ids),
            latitude=body.location.latitude if body.location else None,
            longitude=body.location.longitude if body.location else None,
            contact_phone=body.contact_phone,
        )

        def submit() -> tuple[TicketOut, bool]:
            view, created = flows.submit(
                submission, admit=lambda: limiter.check(Scope.RESIDENT_SUBMIT, resident.resident_id)
            )
            return out(view, resident), created

        ticket, created = await run_in_threadpool(submit)
        if not created:
            response.status_code = status.HTTP_200_OK
        return ticket


def _add_read_routes(router: APIRouter, flows: TicketFlows, out: Render) -> None:
    @router.get("/{ticket_id}", response_model=TicketOut)
    def get_ticket(ticket_id: str, caller: CallerDep) -> TicketOut:
        """One ticket with its routing decision, history, primary's status and duplicates (if the caller may see
        it: else 404)."""
        view = flows.get(ticket_id)
        check_visible(caller, view.ticket)
        return out(view, caller)

    @router.get("", response_model=TicketPageOut)
    def list_tickets(
        caller: CallerDep,
        community: str | None = None,
        party: str | None = None,
        status: TicketStatus | None = None,
        resident_id: Annotated[str | None, Query(description="Residents: their own only (or left out).")] = None,
        escalation_level: EscalationLevel | None = None,
        primary_ticket_id: str | None = None,
        page_size: Annotated[int, Query(ge=1, le=100)] = 20,
        page_token: str = "",
    ) -> TicketPageOut:
        """Tickets the caller may see, newest first, filtered and paged by cursor: a resident's own; a worker's
        party's in their community (dispatchers also the manual queue with `status=needs_manual`)."""
        query = TicketQuery(
            community,
            party,
            status,
            resident_id,
            page_size=page_size,
            page_token=page_token,
            escalation_level=escalation_level,
            primary_id=primary_ticket_id,
        )
        views, next_token = flows.list(scoped_query(caller, query))
        return TicketPageOut(tickets=[out(v, caller, with_events=False) for v in views], next_page_token=next_token)


def _add_contact_route(router: APIRouter, contact: ContactFlows) -> None:
    @router.get("/{ticket_id}/contact", response_model=ContactOut)
    def get_contact(ticket_id: str, caller: CallerDep, response: Response) -> ContactOut:
        """The resident's callback number in full: for the ticket's resident, and for a worker who may see the
        ticket, whose read the audit log records first (503 and no number when it cannot); 404 for anyone else. A
        worker reads at most LINLI_RATE_CONTACT_REVEALS_PER_HOUR numbers an hour (the same ticket again counts
        once): over it 429 with Retry-After, no number, and the refusal in the audit log."""
        found = contact.read(ticket_id, caller)
        response.headers["Cache-Control"] = "no-store"
        return ContactOut(
            ticket_id=found.ticket_id,
            contact_phone=found.contact_phone,
            has_contact_phone=bool(found.contact_phone),
        )


def _add_worker_routes(router: APIRouter, flows: TicketFlows, out: Render) -> None:
    @router.post("/{ticket_id}/accept", response_model=TicketOut)
    def accept_ticket(ticket_id: str, worker: WorkerDep, body: WorkerBody | None = None) -> TicketOut:
        """A worker of the ticket's party takes it on (a dispatcher may claim a manual-queue ticket for theirs)."""
        if body is not None:
            check_claimed_identity(worker, body.worker_id, body.party)
        return out(flows.accept(ticket_id, worker), worker)

    @router.post("/{ticket_id}/start", response_model=TicketOut)
    def start_ticket(ticket_id: str, worker: WorkerDep) -> TicketOut:
        """A worker of the ticket's party starts the work."""
        return out(flows.start(ticket_id, worker), worker)

    @router.post("/{ticket_id}/transfer", response_model=TicketOut)
    def transfer_ticket(ticket_id: str, body: TransferBody, worker: WorkerDep) -> TicketOut:
        """A worker hands the ticket to another party, with a reason; handing it back escalates (a dispute)."""
        check_claimed_identity(worker, body.worker_id, body.party)
        return out(flows.transfer(ticket_id, worker, to_party=body.to_party, reason=body.reason), worker)

    @router.post("/{ticket_id}/resolve", response_model=TicketOut)
    def resolve_ticket(ticket_id: str, body: ResolveBody, worker: WorkerDep) -> TicketOut:
        """A worker closes the ticket with what was done; its duplicates are resolved with it."""
        check_claimed_identity(worker, body.worker_id, body.party)
        return out(
            flows.resolve(ticket_id, worker, resolution=body.resolution, attachment_ids=tuple(body.attachment_ids)),
            worker,
        )

    @router.post("/{ticket_id}/merge", response_model=MergeOut)
    def merge_ticket(ticket_id: str, body: MergeBody, worker: WorkerDep) -> MergeOut:
        """A worker of the primary's party folds this ticket into it."""
        view, primary = flows.merge(ticket_id, worker, primary_id=body.primary_ticket_id)
        return MergeOut(ticket=out(view, worker), primary=out(primary, worker))

    @router.post("/{ticket_id}/unmerge", response_model=TicketOut)
    def unmerge_ticket(ticket_id: str, body: UnmergeBody, worker: WorkerDep) -> TicketOut:
        """A worker of the primary's party separates this ticket again."""
        return out(flows.unmerge(ticket_id, worker, reason=body.reason), worker)

    @router.post("/{ticket_id}/dispatch", response_model=TicketOut)
    def dispatch_ticket(ticket_id: str, body: DispatchBody, worker: WorkerDep) -> TicketOut:
        """The community's dispatcher routes a manual-queue ticket to a party."""
        return out(flows.dispatch(ticket_id, worker, to_party=body.to_party, note=body.note), worker)

    @router.post("/{ticket_id}/split", status_code=status.HTTP_201_CREATED, response_model=TicketOut)
    def split_ticket(ticket_id: str, body: SplitBody, worker: WorkerDep) -> TicketOut:
        """A worker of the ticket's party (a dispatcher, in the manual queue) makes a further problem of its message
        a ticket of its own, for the same resident, queued for triage; 409 for a ticket no longer open, or for a
        passage already split off from it."""
        return out(flows.split(ticket_id, worker, text=body.text), worker)


def _add_resident_routes(router: APIRouter, flows: TicketFlows, limiter: RateLimiter, out: Render) -> None:
    def visible(ticket_id: str, caller: CallerDep) -> None:
        check_visible(caller, flows.get(ticket_id).ticket)

    @router.post("/{ticket_id}/rate", response_model=TicketOut)
    def rate_ticket(ticket_id: str, body: RateBody, resident: ResidentDep) -> TicketOut:
        """The resident rates the result of their own ticket; 1-2 reopens the ticket and escalates it."""
        check_claimed_resident(resident, body.resident_id)
        limiter.check(Scope.RESIDENT_WRITE, resident.resident_id)
        visible(ticket_id, resident)
        view = flows.rate(ticket_id, resident_id=resident.resident_id, score=body.score, comment=body.comment)
        return out(view, resident)

    @router.post("/{ticket_id}/reopen", response_model=TicketOut)
    def reopen_ticket(ticket_id: str, body: ReopenBody, resident: ResidentDep) -> TicketOut:
        """The resident reopens their own resolved or closed ticket."""
        check_claimed_resident(resident, body.resident_id)
        limiter.check(Scope.RESIDENT_WRITE, resident.resident_id)
        visible(ticket_id, resident)
        return out(flows.reopen(ticket_id, resident_id=resident.resident_id, reason=body.reason), resident)
