"""Who may see which tickets: residents their own, workers their party's in their community, dispatchers also
the community's manual queue.

A ticket the caller may not see is answered exactly like one that does not exist (404 / NOT_FOUND), so that ticket
ids tell nobody what exists.
"""

from __future__ import annotations

from dataclasses import replace
from typing import NoReturn

from linli.errors import NotFound, PermissionDenied
from services.intake.auth.identity import Caller, Resident, Service, Worker, check_claimed_resident
from services.intake.tickets.models import Ticket, TicketStatus
from services.intake.tickets.repository import TicketQuery


def can_see(caller: Caller, ticket: Ticket) -> bool:
    """True when `caller` may read `ticket`."""
    if isinstance(caller, Resident):
        return ticket.resident_id == caller.resident_id
    if isinstance(caller, Worker):
        if not caller.serves(ticket.community):
            return False
        manual = ticket.status == TicketStatus.NEEDS_MANUAL.value
        return ticket.party == caller.party or (manual and caller.is_dispatcher)
    return False


def require_resident_or_worker(caller: Caller) -> None:
    """Raises PermissionDenied for a service token: what residents and workers read (instant answers, the meeting's
    decisions) is no service's business."""
    if isinstance(caller, Service):
        raise PermissionDenied("this needs a resident's or a worker's token")


def check_visible(caller: Caller, ticket: Ticket) -> None:
    """Raises NotFound, worded as for a missing ticket, when `caller` may not read `ticket`."""
    if not can_see(caller, ticket):
        raise NotFound(f"no ticket {ticket.id!r}")


def hidden_or_denied(caller: Caller, ticket: Ticket, reason: str) -> NoReturn:
    """Refuses an action: NotFound when `caller` may not even see the ticket, else PermissionDenied(`reason`)."""
    check_visible(caller, ticket)
    raise PermissionDenied(reason)


def scoped_query(caller: Caller, query: TicketQuery) -> TicketQuery:
    """The listing narrowed to what `caller` may see; a filter asking for more is PermissionDenied."""
    if isinstance(caller, Resident):
        check_claimed_resident(caller, query.resident_id or "")
        return replace(query, resident_id=caller.resident_id)
    if not isinstance(caller, Worker):
        raise PermissionDenied("listing tickets needs a resident's or a worker's token")
    if query.community and not caller.serves(query.community):
        raise PermissionDenied(f"worker {caller.worker_id} does not serve {query.community}")
    community = query.community or caller.community or None
    communities = None if community else caller.community_scope
    if caller.is_dispatcher and query.status is TicketStatus.NEEDS_MANUAL:
        # The manual queue belongs to no party yet: its dispatchers see all of it, whatever party they are.
        return replace(query, community=community, communities=communities)
    if query.party and query.party != caller.party:
        raise PermissionDenied(f"worker {caller.worker_id} sees only the tickets of {caller.party}")
    return replace(query, community=community, communities=communities, party=caller.party)


def scoped_search(caller: Caller, query: TicketQuery) -> tuple[TicketQuery, bool]:
    """A worker's search narrowed like their listing, and whether the manual queue of their communities is searched
    too (dispatchers searching every status see it, as they can open its tickets); residents and services: denied."""
    if not isinstance(caller, Worker):
        raise PermissionDenied("搜索工单需要工作人员的令牌")
    scoped = scoped_query(caller, query)
    return scoped, caller.is_dispatcher and query.status is None
