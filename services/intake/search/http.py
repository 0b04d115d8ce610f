"""GET /v1/search/tickets: workers search the tickets they may see (outside /v1/tickets/, so no ticket number can
ever be taken for the word "search")."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from services.intake.auth import Caller
from services.intake.auth.http import CallerDep
from services.intake.search.flows import SearchFlows, SearchHit
from services.intake.search.models import MAX_QUERY_CHARS, SearchRequest
from services.intake.tickets.api_shapes import PhotoLinker, TicketOut, ticket_out
from services.intake.tickets.models import TicketStatus


class SnippetOut(BaseModel):
    """The passage that matched: show `before`, then `match` marked, then `after`."""

    field: str = Field(description="text, building or resolution")
    before: str
    match: str
    after: str


class SearchHitOut(BaseModel):
    """A ticket found, how it matched and where."""

    ticket: TicketOut
    matched: str = Field(description="ticket_number, building, text or resolution: the best way it matched")
    snippet: SnippetOut | None


class SearchPageOut(BaseModel):
    """One page of results, best match first then newest."""

    results: list[SearchHitOut]
    next_page_token: str


def search_routes(flows: SearchFlows, links: PhotoLinker | None = None) -> APIRouter:
    """The search route, bound to one set of flows."""
    router = APIRouter(prefix="/v1/search", tags=["search"])

    def hit_out(hit: SearchHit, caller: Caller) -> SearchHitOut:
        snippet = hit.snippet
        return SearchHitOut(
            ticket=ticket_out(hit.view, caller, with_events=False, links=links),
            matched=hit.tier.name.lower(),
            snippet=SnippetOut(field=snippet.field, before=snippet.before, match=snippet.match, after=snippet.after)
            if snippet
            else None,
        )

    @router.get("/tickets", response_model=SearchPageOut)
    def search_tickets(
        caller: CallerDep,
        q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS, description="词语、楼栋或工单号（前几位）")],
        status: TicketStatus | None = None,
        community: str | None = None,
        page_size: Annotated[int, Query(ge=1, le=100)] = 20,
        page_token: str = "",
    ) -> SearchPageOut:
        """Tickets the caller (a worker) may see whose text, building or resolution contains `q`, or whose number
        starts with it: the same scope as the listing. Best match first (number, building, text, resolution), newest
        first within each."""
        hits, token = flows.search(caller, SearchRequest(q, status, community, page_size, page_token))
        return SearchPageOut(results=[hit_out(hit, caller) for hit in hits], next_page_token=token)

    return router
