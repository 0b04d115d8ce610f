"""Anonymizing one ticket: what erasure on request (erasure.py) and the retention sweep (retention.py) both do.

A ticket outlives its reporter: the problem (a broken light) is not personal data and must still be handled or
counted, so anonymization rewrites what identifies the person and keeps the rest. The resident id becomes a tombstone
("erased:" + a random id), free text is scrubbed, the point, the callback phone and photos are cleared, and resolved
cases are re-sent to retrieval.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from linli.pii import scrub
from services.intake.auth.identity import resident_actor
from services.intake.messages import repository as messages
from services.intake.tickets.context import EventKind, FlowContext, Work
from services.intake.tickets.models import ERASED_RESIDENT_PREFIX, OPEN_STATUSES, Ticket, TicketStatus
from services.intake.uploads import repository as uploads

# Retrieval learned these tickets' cases from their text: it must learn the scrubbed text instead.
LEARNED_STATUSES = frozenset({TicketStatus.RESOLVED.value, TicketStatus.CLOSED.value})
# Duplicate detection compares a new ticket with open ones only (duplicate_queries.duplicate_candidates): the vectors
# of the others serve nothing.
COMPARED_STATUSES = frozenset(status.value for status in OPEN_STATUSES)


def new_tombstone() -> str:
    """A resident id that identifies nobody: random, so it cannot be derived from (or matched to) the openid."""
    return f"{ERASED_RESIDENT_PREFIX}{uuid.uuid4().hex}"


@dataclass(frozen=True)
class Anonymized:
    """What anonymizing one ticket changed: history entries rewritten, and whether its case is learned again."""

    events: int
    case_sync: bool
    # The objects of the ticket's photos, whose rows are gone: the photo store deletes them after the commit.
    photo_keys: tuple[str, ...] = ()


def anonymize_ticket(
    context: FlowContext, work: Work, ticket: Ticket, tombstone: str, *, note: str, actor: str
) -> Anonymized:
    """Rewrites what identifies the resident in `ticket` under `tombstone` and records it (`note`, by `actor`);
    a resolved or closed ticket's case is queued for retrieval to learn again, scrubbed."""
    former_actor = resident_actor(ticket.resident_id)
    events = 0
    for event in ticket.events:
        # Workers' notes and resolutions may quote the resident: every note is scrubbed, not only theirs.
        new_actor = resident_actor(tombstone) if event.actor == former_actor else event.actor
        new_note = scrub(event.note)
        if (new_actor, new_note) != (event.actor, event.note):
            event.actor, event.note = new_actor, new_note
            events += 1
    # The conversation is the resident's words too (and workers' replies may quote them).
    messages.anonymize(ticket.id, former_actor=former_actor, new_actor=resident_actor(tombstone), session=work.session)
    ticket.resident_id = tombstone
    ticket.text = scrub(ticket.text)
    ticket.resolution = scrub(ticket.resolution)
    ticket.routing = _scrubbed_routing(ticket.routing)
    ticket.latitude = ticket.longitude = None
    ticket.contact_phone = ""
    ticket.attachment_urls = []
    # A photo of the problem may show the resident's home, door or face: the ticket keeps none.
    photo_keys = tuple(uploads.remove_for_ticket(ticket.id, session=work.session))
    if ticket.status not in COMPARED_STATUSES:
        # A vector can be inverted back to much of its text; only open tickets are compared for duplicates.
        ticket.embedding, ticket.embedding_model = None, ""
    # A client may build its retry key from the openid; the ticket no longer needs one.
    ticket.idempotency_key = None
    context.record(ticket, EventKind.PERSONAL_DATA_ERASED, actor, note=note)
    case_sync = ticket.status in LEARNED_STATUSES
    if case_sync:
        ticket.case_sync_pending = True
        ticket.queued_at = context.clock()
        ticket_id = ticket.id
        work.after_commit(lambda: context.queue.enqueue_case_sync(ticket_id))
    return Anonymized(events, case_sync, photo_keys)


def _scrubbed_routing(routing: dict[str, Any] | None) -> dict[str, Any] | None:
    """The stored decision with its other issues' excerpts (the resident's own words) scrubbed."""
    if not routing or not routing.get("other_issues"):
        return routing
    issues = [{**issue, "excerpt": scrub(str(issue.get("excerpt", "")))} for issue in routing["other_issues"]]
    return {**routing, "other_issues": issues}
