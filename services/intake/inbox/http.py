"""The inbox's HTTP routes: GET /v1/inbox (a set, page by page), saved views, assignment and bulk actions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.intake.auth.http import CallerDep, WorkerDep
from services.intake.inbox.flows import BulkAction, InboxFlows, ViewDefinition
from services.intake.inbox.models import MAX_PAGE_SIZE, InboxFilters, InboxSet, InboxSort, SavedView
from services.intake.tickets.api_shapes import PhotoLinker, TicketOut, ticket_out
from services.intake.tickets.models import EscalationLevel, Urgency

TicketId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Filter = Annotated[str, StringConstraints(max_length=128)]


class _Body(BaseModel):
    # Unknown fields and wrong types are the client's bug: say so rather than guess.
    model_config = ConfigDict(extra="forbid", strict=True)


class FiltersBody(_Body):
    """Narrowing of a set; each left out (or empty) restricts nothing."""

    community: Filter = ""
    # JSON has no enums: its strings are read as the enum's values (strict mode would refuse them all).
    escalation_level: EscalationLevel | None = Field(None, strict=False)
    urgency: Urgency | None = Field(None, strict=False)
    catalog_entry: Filter = ""
    building: Filter = ""

    def filters(self) -> InboxFilters:
        """As the flows take them."""
        return InboxFilters(
            self.community or None,
            self.escalation_level.value if self.escalation_level else None,
            self.urgency.value if self.urgency else None,
            self.catalog_entry or None,
            self.building or None,
        )


class SaveViewBody(_Body):
    """A named inbox to pick again: a set, its filters and an order."""

    name: str = Field(description="1-40 characters.", examples=["我的超时工单"])
    set: InboxSet = Field(InboxSet.ALL_OPEN, strict=False)
    sort: InboxSort = Field(InboxSort.DEADLINE, strict=False)
    filters: FiltersBody = Field(default_factory=FiltersBody)


class AssignBody(_Body):
    """Give the ticket to a colleague; an empty id takes it back (nobody's)."""

    assignee_worker_id: Annotated[str, StringConstraints(max_length=128)]
    reason: str = Field("", description="Why, optional (2-2,000 characters when given).")


class BulkBody(_Body):
    """One action and one reason for up to 100 tickets."""

    action: BulkAction = Field(strict=False)
    ticket_ids: list[TicketId] = Field(min_length=1, max_length=100, description="Each at most once.")
    reason: str = Field("", description="Required to transfer and to close (it becomes the resolution).")
    to_party: str = Field("", description="The party to transfer to.")


class InboxPageOut(BaseModel):
    """One page of a set."""

    tickets: list[TicketOut]
    next_page_token: str = Field(description="Pass it back for the next page, with the same sort; '' on the last.")
    total: int | None = Field(description="How many tickets the whole set holds: on the first page only, else null.")


class ViewOut(BaseModel):
    """A saved view."""

    id: str
    name: str
    set: InboxSet
    sort: InboxSort
    filters: dict[str, str]
    created_at: datetime


class ViewsOut(BaseModel):
    """The worker's saved views, oldest first."""

    views: list[ViewOut]


class BulkResultOut(BaseModel):
    """One ticket's own outcome."""

    ticket_id: str
    ok: bool
    status: str = Field(description="The ticket's status after the action; '' when refused.")
    error_code: str = Field(description="Why it was refused (the error codes of the API); '' when done.")
    message: str


class BulkOut(BaseModel):
    """Each ticket's result, in the order asked."""

    action: BulkAction
    results: list[BulkResultOut]
    succeeded: int
    failed: int


def view_out(view: SavedView) -> ViewOut:
    """A saved view as the API shows it."""
    definition = view.definition
    return ViewOut(
        id=view.id,
        name=view.name,
        set=InboxSet(definition["set"]),
        sort=InboxSort(definition["sort"]),
        filters=dict(definition.get("filters", {})),
        created_at=view.created_at,
    )


def inbox_routes(flows: InboxFlows, links: PhotoLinker | None = None) -> APIRouter:
    """GET /v1/inbox and its saved views, POST /v1/tickets/{id}/assign and POST /v1/tickets/bulk."""
    router = APIRouter(tags=["inbox"])
    _add_page_route(router, flows, links)
    _add_view_routes(router, flows)
    _add_action_routes(router, flows, links)
    return router


def inbox_view(
    inbox_set: Annotated[InboxSet, Query(alias="set")] = InboxSet.ALL_OPEN,
    sort: InboxSort = InboxSort.DEADLINE,
    community: Annotated[str, Query(max_length=128)] = "",
    escalation_level: EscalationLevel | None = None,
    urgency: Urgency | None = None,
    catalog_entry: Annotated[str, Query(max_length=128)] = "",
    building: Annotated[str, Query(max_length=64)] = "",
) -> ViewDefinition:
    """The view a request names: a set, an order and filters (GET /v1/inbox and its exports take the same)."""
    filters = FiltersBody(
        community=community,
        escalation_level=escalation_level,
        urgency=urgency,
        catalog_entry=catalog_entry,
        building=building,
    )
    return ViewDefinition(inbox_set, sort, filters.filters())


InboxViewDep = Annotated[ViewDefinition, Depends(inbox_view)]


def _add_page_route(router: APIRouter, flows: InboxFlows, links: PhotoLinker | None) -> None:
    @router.get("/v1/inbox", response_model=InboxPageOut)
    def inbox(
        caller: CallerDep,
        view: InboxViewDep,
        page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 20,
        page_token: Annotated[str, Query(max_length=512)] = "",
    ) -> InboxPageOut:
        """A set of the tickets the worker may see (their party's in their communities; dispatchers also the manual
        queue), in one order, page by page: `all_open`, `mine`, `overdue`, `waiting_resident`, `unassigned`. A page
        token of another sort is 400."""
        found = flows.page(caller, view, page_size=page_size, page_token=page_token)
        return InboxPageOut(
            tickets=[ticket_out(ticket, caller, with_events=False, links=links) for ticket in found.tickets],
            next_page_token=found.next_page_token,
            total=found.total,
        )


def _add_view_routes(router: APIRouter, flows: InboxFlows) -> None:
    @router.get("/v1/inbox/views", response_model=ViewsOut)
    def saved_views(worker: WorkerDep) -> ViewsOut:
        """The worker's own saved views."""
        return ViewsOut(views=[view_out(view) for view in flows.views(worker)])

    @router.post("/v1/inbox/views", status_code=status.HTTP_201_CREATED, response_model=ViewOut)
    def save_view(body: SaveViewBody, worker: WorkerDep) -> ViewOut:
        """Saves the current set, filters and order under a name (at most 50 views; 409 beyond)."""
        definition = ViewDefinition(body.set, body.sort, body.filters.filters())
        return view_out(flows.save_view(worker, body.name, definition))

    @router.delete("/v1/inbox/views/{view_id}", status_code=status.HTTP_204_NO_CONTENT)
    def delete_view(view_id: str, worker: WorkerDep) -> Response:
        """Deletes one of the worker's own views (another's is 404)."""
        flows.delete_view(worker, view_id)
        return Response(status_code=status.HTTP_204_NO_CONTENT)


def _add_action_routes(router: APIRouter, flows: InboxFlows, links: PhotoLinker | None) -> None:
    @router.post("/v1/tickets/bulk", response_model=BulkOut)
    def bulk(body: BulkBody, worker: WorkerDep) -> BulkOut:
        """Accept, transfer or close (resolve, the reason as the resolution) up to 100 tickets with one reason; each
        goes through its own rules and transaction and has its own result. The same id twice is 400."""
        results = flows.bulk(worker, body.action, body.ticket_ids, reason=body.reason, to_party=body.to_party)
        done = sum(result.ok for result in results)
        return BulkOut(
            action=body.action,
            results=[BulkResultOut(**vars(result)) for result in results],
            succeeded=done,
            failed=len(results) - done,
        )

    @router.post("/v1/tickets/{ticket_id}/assign", response_model=TicketOut)
    def assign(ticket_id: str, body: AssignBody, worker: WorkerDep) -> TicketOut:
        """A worker of the ticket's party (or a dispatcher) gives it to a colleague of that party who serves its
        community; an empty id takes it back."""
        view = flows.assign(ticket_id, worker, assignee_worker_id=body.assignee_worker_id, reason=body.reason)
        return ticket_out(view, worker, links=links)
