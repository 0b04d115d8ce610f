"""Erasing a resident's personal data on request (PIPL art. 47): every ticket they filed is anonymized under one
tombstone (anonymization.py) and their tokens are refused.

The tombstone is drawn once per erasure: the erased person's tickets still count as one reporter, but nothing leads
back to the openid.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial

from linli.errors import NotFound, shown_id
from linli.tokens import MAX_SUBJECT_LENGTH, TokenKind
from services.intake.auth.identity import resident_actor
from services.intake.auth.revocations import Revocations, stage_revocation
from services.intake.metrics import RESIDENTS_ERASED
from services.intake.residents import repository
from services.intake.residents.anonymization import anonymize_ticket, new_tombstone
from services.intake.tickets.context import FlowContext
from services.intake.tickets.models import Ticket, is_erased_resident
from services.intake.uploads import repository as uploads
from services.intake.uploads.flows import delete_objects
from services.intake.uploads.storage import ObjectStore

logger = logging.getLogger(__name__)

ERASURE_REASON = "erased on request"
ERASED_NOTE = "居民个人信息已按本人要求删除"


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


class ErasureFlows:
    """Erasure on request, one unit of work over the ticket store (the retention sweep is retention.py).

    Args:
        context: the ticket store, queue and clock.
        revocations: this process's deny-list, told at once about a revocation the erasure wrote (others re-read
            theirs within LINLI_AUTH_REVOCATION_REFRESH_SECONDS); None where no process checks tokens.
        photos: the photo store, whose objects of the erased photos are deleted after the commit; None leaves them
            (their rows are gone: no link to them is ever signed again).
    """

    def __init__(
        self, context: FlowContext, revocations: Revocations | None = None, photos: ObjectStore | None = None
    ) -> None:
        self._context = context
        self._revocations = revocations
        self._photos = photos

    def resident_of(self, ticket_id: str) -> str:
        """The resident who filed `ticket_id`, for an erasure asked for by ticket (by phone, at the 居委会).

        Raises:
            NotFound: no such ticket, or its resident was erased already.
        """
        with self._context.transaction() as work:
            ticket = work.session.get(Ticket, ticket_id)
            if ticket is None:
                raise NotFound(f"no ticket {shown_id(ticket_id)}")
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
            tickets = repository.tickets_of(resident_id, session=work.session)
            if not tickets:
                raise NotFound("no personal data stored for this resident (unknown, or erased already)")
            changes = [
                anonymize_ticket(self._context, work, ticket, tombstone, note=ERASED_NOTE, actor=actor)
                for ticket in tickets
            ]
            # Their photos, attached or not: the uploader column names the openid too.
            keys = [key for change in changes for key in change.photo_keys]
            keys += uploads.remove_by_uploader(resident_actor(resident_id), session=work.session)
            if self._photos is not None:
                work.after_commit(partial(delete_objects, self._photos, keys))
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


def _can_be_token_subject(resident_id: str) -> bool:
    # Tickets submitted by a service may carry an id no token could: there is nothing to revoke then.
    return len(resident_id) <= MAX_SUBJECT_LENGTH and resident_id.isprintable()


def _revocation_reason(reason: str) -> str:
    return f"{ERASURE_REASON}: {reason}" if reason else ERASURE_REASON
