"""The periodic sweeps beat runs: re-queue what a crash or a dead broker left behind, escalate what is overdue."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from services.intake.metrics import record_sla_breach
from services.intake.tickets import repository
from services.intake.tickets.context import FlowContext

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RequeueReport:
    """What one re-queue sweep queued again."""

    triage: int
    case_sync: int


class SweepFlows:
    """Sweeps over the ticket store; each is one unit of work over a bounded batch."""

    def __init__(self, context: FlowContext) -> None:
        self._context = context

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


def _each(enqueue: Callable[[str], None], ticket_ids: list[str]) -> None:
    for ticket_id in ticket_ids:
        try:
            enqueue(ticket_id)
        except Exception:
            # Still marked queued_at: the next sweep after `stuck_after` tries again.
            logger.exception("could not re-queue", extra={"ticket_id": ticket_id})
