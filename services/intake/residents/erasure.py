"""Erasing a resident's personal data on request (PIPL art. 47) and anonymizing tickets kept past their retention.

A ticket outlives its reporter: the problem (a broken light) is not personal data and must still be handled or
counted, so erasure rewrites what identifies the person and keeps the rest. The resident id becomes a tombstone
("erased:" + a random id drawn once per erasure: the erased person's tickets still count as one reporter, but nothing
leads back to the openid), free text is scrubbed, the point and photos are cleared, and resolved cases are re-sent to
retrieval.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from linli.errors import NotFound
from linli.pii import scrub
from linli.tokens import MAX_SUBJECT_LENGTH, TokenKind
from services.intake.auth.identity import resident_actor
from services.intake.auth.revocations import Revocations, stage_revocation
from services.intake.metrics import RESIDENTS_ERASED, TICKETS_ANONYMIZED
from services.intake.tickets.context import EventKind, FlowContext, Work
from services.intake.tickets.models import (
    ERASED_RESIDENT_PREFIX,
    OPEN_STATUSES,
    Ticket,
    TicketStatus,
    is_erased_resident,
)

logger = logging.getLogger(__name__)

ERASURE_REASON = "erased on request"
ERASED_NOTE = "居民个人信息已按本人要求删除"
EXPIRED_NOTE = "个人信息保存期满,已匿名化"
# Retrieval learned these tickets' cases from their text: it must learn the scrubbed text instead.
LEARNED_STATUSES = frozenset({TicketStatus.RESOLVED.value, TicketStatus.CLOSED.value})
# Duplicate detection compares a new ticket with open ones only (repository.duplicate_candidates): the vectors of the
# others serve nothing.
COMPARED_STATUSES = frozenset(status.value for status in OPEN_STATUSES)


def new_tombstone() -> str:
    """A resident id that identifies nobody: random, so it cannot be derived from (or matched to) the openid."""
    return f"{ERASED_RESIDENT_PREFIX}{uuid.uuid4().hex}"


@dataclass(frozen=True)
class ErasureReport:
    """What erasing one resident changed.

    Attributes:
        tombstone: the resident id their tickets carry now.
        tickets: tickets rewritten.
        events: history entries whose actor or note changed.
        case_syncs: resolved or closed tickets whose case retrieval must learn again, scrubbed.
        tokens_revoked: whether the resident's tokens are refused from now on (False only for an id no token
            could carry).
    """

    tombstone: str
    tickets: int
    events: int
    case_syncs: int
    tokens_revoked: bool


@dataclass(frozen=True)
class _Anonymized:
    events: int
    case_sync: bool


class ErasureFlows:
    """Erasure on request and the retention sweep, each one unit of work over the ticket store.

    Args:
        context: the ticket store, queue and clock.
        revocations: this process's deny-list, told at once about a revocation the erasure wrote (others re-read
            theirs within LINLI_AUTH_REVOCATION_REFRESH_SECONDS); None where no process checks tokens.
    """

    def __init__(self, context: FlowContext, revocations: Revocations | None = None) -> None:
        self._context = context
        self._revocations = revocations

    def resident_of(self, ticket_id: str) -> str:
        """The resident who filed `ticket_id`, for an erasure asked for by ticket (by phone, at the 居委会).

        Raises:
            NotFound: no such ticket, or its resident was erased already.
        """
        with self._context.transaction() as work:
            ticket = work.session.get(Ticket, ticket_id)
            if ticket is None:
                raise NotFound(f"no ticket {ticket_id!r}")
            if is_erased_resident(ticket.resident_id):
                raise NotFound(f"the resident of ticket {ticket_id} was erased already")
            return ticket.resident_id

    def erase_resident(self, resident_id: str, *, actor: str | None, reason: str = "") -> ErasureReport:
        """Erases everything that identifies `resident_id` from their tickets and refuses their tokens, in one
        transaction: a failure leaves both the tickets and the tokens as they were.

        Open tickets stay open and are still handled; the resident can no longer see or follow them. `actor` is
        who erases (an operator); None for the resident themself, recorded under the tombstone.

        Raises:
            NotFound: no ticket carries `resident_id` (never known, or already erased).
        """
        if not resident_id or is_erased_resident(resident_id):
            raise NotFound("no personal data stored for this resident (unknown, or erased already)")
        tombstone = new_tombstone()
        actor = actor or resident_actor(tombstone)
        now = self._context.clock()
        with self._context.transaction() as work:
            tickets = _tickets_of(resident_id, session=work.session)
            if not tickets:
                raise NotFound("no personal data stored for this resident (unknown, or erased already)")
            changes = [self._anonymize(work, ticket, tombstone, note=ERASED_NOTE, actor=actor) for ticket in tickets]
            revoked = _can_be_token_subject(resident_id)
            if revoked:
                stage_revocation(
                    TokenKind.RESIDENT,
                    resident_id,
                    now,
                    reason=_revocation_reason(reason),
                    actor=actor,
                    session=work.session,
                )
                if self._revocations is not None:
                    work.after_commit(self._revocations.forget_snapshot)
            work.after_commit(RESIDENTS_ERASED.inc)
        report = ErasureReport(
            tombstone=tombstone,
            tickets=len(tickets),
            events=sum(change.events for change in changes),
            case_syncs=sum(change.case_sync for change in changes),
            tokens_revoked=revoked,
        )
        # The openid is the very thing erased: the log names the tombstone only.
        logger.info(
            "erased a resident's personal data",
            extra={"tombstone": tombstone, "tickets": report.tickets, "events": report.events},
        )
        return report

    def anonymize_closed_before(self, cutoff: datetime, *, limit: int) -> int:
        """Anonymizes up to `limit` closed tickets last changed at or before `cutoff`, each under its own tombstone
        (retention: nobody asked, so no token is revoked); returns how many."""
        with self._context.transaction() as work:
            statement = (
                select(Ticket)
                .where(
                    Ticket.status == TicketStatus.CLOSED.value,
                    Ticket.updated_at <= cutoff,
                    Ticket.resident_id.not_like(f"{ERASED_RESIDENT_PREFIX}%"),
                )
                .order_by(Ticket.updated_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            tickets = list(work.session.scalars(statement))
            for ticket in tickets:
                self._anonymize(work, ticket, new_tombstone(), note=EXPIRED_NOTE, actor="system")
            if tickets:
                work.after_commit(lambda: TICKETS_ANONYMIZED.inc(len(tickets)))
        return len(tickets)

    def _anonymize(self, work: Work, ticket: Ticket, tombstone: str, *, note: str, actor: str) -> _Anonymized:
        former_actor = resident_actor(ticket.resident_id)
        events = 0
        for event in ticket.events:
            # Workers' notes and resolutions may quote the resident: every note is scrubbed, not only theirs.
            new_actor = resident_actor(tombstone) if event.actor == former_actor else event.actor
            new_note = scrub(event.note)
            if (new_actor, new_note) != (event.actor, event.note):
                event.actor, event.note = new_actor, new_note
                events += 1
        ticket.resident_id = tombstone
        ticket.text = scrub(ticket.text)
        ticket.resolution = scrub(ticket.resolution)
        ticket.routing = _scrubbed_routing(ticket.routing)
        ticket.latitude = ticket.longitude = None
        ticket.attachment_urls = []
        if ticket.status not in COMPARED_STATUSES:
            # A vector can be inverted back to much of its text; only open tickets are compared for duplicates.
            ticket.embedding, ticket.embedding_model = None, ""
        # A client may build its retry key from the openid; the ticket no longer needs one.
        ticket.idempotency_key = None
        self._context.record(ticket, EventKind.PERSONAL_DATA_ERASED, actor, note=note)
        case_sync = ticket.status in LEARNED_STATUSES
        if case_sync:
            ticket.case_sync_pending = True
            ticket.queued_at = self._context.clock()
            ticket_id = ticket.id
            work.after_commit(lambda: self._context.queue.enqueue_case_sync(ticket_id))
        return _Anonymized(events, case_sync)


def _tickets_of(resident_id: str, *, session: Session) -> list[Ticket]:
    statement = select(Ticket).where(Ticket.resident_id == resident_id).order_by(Ticket.created_at, Ticket.id)
    return list(session.scalars(statement.with_for_update()))


def _scrubbed_routing(routing: dict[str, Any] | None) -> dict[str, Any] | None:
    """The stored decision with its other issues' excerpts (the resident's own words) scrubbed."""
    if not routing or not routing.get("other_issues"):
        return routing
    issues = [{**issue, "excerpt": scrub(str(issue.get("excerpt", "")))} for issue in routing["other_issues"]]
    return {**routing, "other_issues": issues}


def _can_be_token_subject(resident_id: str) -> bool:
    # Tickets submitted by a service may carry an id no token could: there is nothing to revoke then.
    return len(resident_id) <= MAX_SUBJECT_LENGTH and resident_id.isprintable()


def _revocation_reason(reason: str) -> str:
    return f"{ERASURE_REASON}: {reason}" if reason else ERASURE_REASON
