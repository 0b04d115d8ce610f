"""The periodic sweeps beat runs: re-queue what a crash left behind, escalate the overdue, close the unrated,
anonymize what was kept long enough (residents/retention.py), forget photos no ticket took (uploads/flows.py)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from services.intake.metrics import record_auto_closed, record_sla_breach
from services.intake.residents.retention import RetentionSweep
from services.intake.tickets import repository
from services.intake.tickets.context import SYSTEM, EventKind, FlowContext
from services.intake.tickets.models import TicketStatus
from services.intake.uploads.flows import UnattachedPhotoSweep
from services.intake.uploads.storage import ObjectStore

logger = logging.getLogger(__name__)

AUTO_CLOSE_NOTE = "居民未评价,回访期满自动办结"


@dataclass(frozen=True)
class RequeueReport:
    """What one re-queue sweep queued again."""

    triage: int
    case_sync: int


class SweepFlows:
    """Sweeps over the ticket store; each is one unit of work over a bounded batch.

    `photos` gives the photo store when a sweep first deletes photos (a worker reaches an S3 store only then, so that
    a store that is down stops no triage); None: no photo store, so photos are neither forgotten nor deleted.
    `unattached_for`: how long a photo no ticket took is kept (None: until its uploader's erasure).
    """

    def __init__(
        self,
        context: FlowContext,
        photos: Callable[[], ObjectStore] | None = None,
        unattached_for: timedelta | None = None,
    ) -> None:
        self._context = context
        self._photos = photos
        self._unattached_for = unattached_for

    def requeue_stuck(self) -> RequeueReport:
        """Queues again the triage of tickets still RECEIVED, and the case sync of resolved ones, after a while.

        A crash between a commit and its publish, or a broker that was down, would otherwise leave them waiting
        forever. A ticket whose triage is merely slow gets a second task, which finds it triaged and does nothing.
        """
        now = self._context.clock()
        cutoff = now - self._context.policy.stuck_after
        limit = self._context.policy.sweep_batch
        with self._context.transaction() as work:
            stuck = repository.stuck_received(cutoff, limit=limit, session=work.session)
            unsynced = repository.unsynced_cases(cutoff, limit=limit, session=work.session)
            for ticket in (*stuck, *unsynced):
                ticket.queued_at = now
            triage_ids = [ticket.id for ticket in stuck]
            sync_ids = [ticket.id for ticket in unsynced]
            work.after_commit(lambda: _each(self._context.queue.enqueue_triage, triage_ids))
            work.after_commit(lambda: _each(self._context.queue.enqueue_case_sync, sync_ids))
        if triage_ids or sync_ids:
            logger.warning("re-queued stuck work", extra={"triage": len(triage_ids), "case_sync": len(sync_ids)})
        return RequeueReport(len(triage_ids), len(sync_ids))

    def escalate_overdue(self) -> int:
        """Moves every open ticket past its deadline one rung up the ladder; returns how many were escalated.

        At the top rung there is nobody above: the street office is told once and the deadline is cleared, so
        the next sweep does not repeat it.
        """
        now = self._context.clock()
        escalated = 0
        with self._context.transaction() as work:
            for ticket in repository.overdue(now, limit=self._context.policy.sweep_batch, session=work.session):
                record_sla_breach(work, level=ticket.escalation_level)
                if self._context.escalate(work, ticket, reason="超过处理时限未办结"):
                    escalated += 1
                else:
                    ticket.sla_due_at = None
        if escalated:
            logger.info("escalated overdue tickets", extra={"count": escalated})
        return escalated

    def close_unrated(self) -> int:
        """Closes the resolved tickets nobody rated within the follow-up period; returns how many were closed.

        Followers resolved with their primary are closed on their own clock too: each has its own resident. The
        resident can still rate or reopen a closed ticket. Nobody is notified: the resident was told at "resolved",
        and the outbound events have no "closed" kind (a good rating closes silently as well).
        """
        period = self._context.policy.auto_close_after
        if period is None:
            return 0
        now = self._context.clock()
        closed = 0
        with self._context.transaction() as work:
            due = repository.unrated_resolved(
                now - period, limit=self._context.policy.sweep_batch, session=work.session
            )
            for ticket in due:
                ticket.status = TicketStatus.CLOSED.value
                self._context.record(ticket, EventKind.AUTO_CLOSED, SYSTEM, note=AUTO_CLOSE_NOTE)
                closed += 1
            record_auto_closed(work, closed)
        if closed:
            logger.info("closed unrated tickets", extra={"count": closed})
        return closed

    def anonymize_expired(self) -> int:
        """The retention sweep (services/intake/residents/retention.py), run with the other sweeps by beat."""
        return RetentionSweep(self._context, self._photos).anonymize_expired()

    def forget_unattached_photos(self) -> int:
        """Deletes a batch of photos no ticket took within `unattached_for`; returns how many."""
        if self._photos is None or self._unattached_for is None:
            return 0
        return UnattachedPhotoSweep(self._context, self._photos(), self._unattached_for).forget_unattached()


def _each(enqueue: Callable[[str], None], ticket_ids: list[str]) -> None:
    for ticket_id in ticket_ids:
        try:
            enqueue(ticket_id)
        except Exception:
            # Still marked queued_at: the next sweep after `stuck_after` tries again.
            logger.exception("could not re-queue", extra={"ticket_id": ticket_id})
