"""Searching tickets: the caller's scope, the query checked, one unit of work per page."""

from __future__ import annotations

from dataclasses import dataclass

from services.intake.auth.access import can_see, scoped_search
from services.intake.auth.identity import Caller
from services.intake.database import Database
from services.intake.search import repository
from services.intake.search.models import MatchTier, SearchRequest, Snippet, normalized_query
from services.intake.tickets.models import Ticket
from services.intake.tickets.repository import TicketQuery
from services.intake.tickets.views import TicketView, views_of

# Characters of context on each side of the matched passage.
SNIPPET_CONTEXT = 24


@dataclass(frozen=True)
class SearchHit:
    """A ticket found, how it matched, and the passage that matched (none for a ticket number)."""

    view: TicketView
    tier: MatchTier
    snippet: Snippet | None


class SearchFlows:
    """Workers' ticket search over the ticket database."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def search(self, caller: Caller, request: SearchRequest) -> tuple[list[SearchHit], str]:
        """One page of the tickets `caller` may see that match `request.q`, best match first then newest, and the
        next page's token. PermissionDenied for residents and services; InvalidArgument for a bad query or token."""
        q = normalized_query(request.q)
        query = TicketQuery(community=request.community, status=request.status)
        scoped, manual_queue_too = scoped_search(caller, query)
        scope = repository.Scope(scoped, manual_queue_too)
        with self._database.unit_of_work() as session:
            found, token = repository.search_page(
                q, scope, page_size=request.page_size, page_token=request.page_token, session=session
            )
            # The scope already holds exactly this; checking again costs nothing and fails closed.
            found = [(ticket, tier) for ticket, tier in found if can_see(caller, ticket)]
            views = views_of([ticket for ticket, _ in found], session=session)
        return [
            SearchHit(view, tier, snippet_of(view.ticket, tier, q))
            for view, (_, tier) in zip(views, found, strict=True)
        ], token


def snippet_of(ticket: Ticket, tier: MatchTier, q: str) -> Snippet | None:
    """The passage of the matched field around the first occurrence of `q` (case-insensitive)."""
    field = {MatchTier.BUILDING: "building", MatchTier.TEXT: "text", MatchTier.RESOLUTION: "resolution"}.get(tier)
    if field is None:
        return None
    value: str = getattr(ticket, field)
    start = value.lower().find(q.lower())
    if start < 0:
        # Lower-casing changed the length (rare letters): show the field's start rather than a wrong cut.
        return Snippet(field, "", "", value[: 2 * SNIPPET_CONTEXT])
    end = start + len(q)
    before = value[max(0, start - SNIPPET_CONTEXT) : start]
    after = value[end : end + SNIPPET_CONTEXT]
    prefix = "…" if start > SNIPPET_CONTEXT else ""
    suffix = "…" if end + SNIPPET_CONTEXT < len(value) else ""
    return Snippet(field, prefix + before, value[start:end], after + suffix)
