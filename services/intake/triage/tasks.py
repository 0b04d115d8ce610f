"""The triage task: route a stored ticket once, retry while routing is down, never leave it unowned."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from celery import Celery, Task

from linli.errors import InvalidArgument, NotFound, Unavailable
from linli.settings import IntakeSettings
from services.intake.tickets.flows import TicketFlows
from services.intake.triage.celery_app import TRIAGE_TASK
from services.intake.triage.routing_client import RoutingClient

logger = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 300.0
UNAVAILABLE_NOTE = "自动分派暂不可用(已重试),请人工分派。"
REJECTED_NOTE = "自动分派无法处理这条内容,请人工分派。"


class TriageOutcome(StrEnum):
    """What one triage attempt did."""

    ROUTED = "routed"
    NEEDS_MANUAL = "needs_manual"
    ALREADY_TRIAGED = "already_triaged"


@dataclass
class TriageDeps:
    """What the task needs: the ticket flows and a routing client."""

    flows: TicketFlows
    routing: RoutingClient


def triage_ticket(ticket_id: str, deps: TriageDeps) -> TriageOutcome:
    """Routes a RECEIVED ticket and stores the decision; does nothing if it was triaged already.

    Idempotent: a redelivered message (worker killed after routing but before acknowledging) finds the ticket
    triaged and stops, so a ticket is never routed twice into two parties.

    Raises:
        Unavailable: routing could not answer; the caller retries.
        InvalidArgument: routing rejected the text; retrying will not help.
    """
    ticket = deps.flows.pending_triage(ticket_id)
    if ticket is None:
        return TriageOutcome.ALREADY_TRIAGED
    decision = deps.routing.route(text=ticket.text, community=ticket.community, building=ticket.building)
    if not deps.flows.record_triage(ticket_id, decision):
        return TriageOutcome.ALREADY_TRIAGED
    return TriageOutcome.NEEDS_MANUAL if decision.abstained else TriageOutcome.ROUTED


def backoff_seconds(retries: int, base: float) -> float:
    """Exponential backoff with full jitter, so a recovering routing service is not hit by a thundering herd."""
    return float(random.uniform(0, min(MAX_BACKOFF_SECONDS, base * 2**retries)))  # noqa: S311 - not security


def register_triage_task(app: Celery, deps: Callable[[], TriageDeps], settings: IntakeSettings) -> Task:
    """Registers the triage task on `app`; `deps` is called in the worker, never at import time."""

    @app.task(name=TRIAGE_TASK, bind=True, max_retries=settings.triage_max_retries)  # type: ignore[untyped-decorator]
    def triage(self: Task, ticket_id: str) -> str:
        flows = deps().flows
        try:
            outcome = triage_ticket(ticket_id, deps())
        except NotFound:
            logger.error("triage of a ticket that does not exist", extra={"ticket_id": ticket_id})
            return "missing"
        except InvalidArgument as error:
            logger.warning("routing rejected the ticket: %s", error, extra={"ticket_id": ticket_id})
            flows.send_to_manual(ticket_id, reason=REJECTED_NOTE)
            return TriageOutcome.NEEDS_MANUAL.value
        except Unavailable as error:
            if self.request.retries >= self.max_retries:
                logger.error("triage gave up: %s", error, extra={"ticket_id": ticket_id})
                flows.send_to_manual(ticket_id, reason=UNAVAILABLE_NOTE)
                return TriageOutcome.NEEDS_MANUAL.value
            delay = backoff_seconds(self.request.retries, settings.triage_retry_backoff_seconds)
            logger.warning("routing unavailable, retrying in %.1f s", delay, extra={"ticket_id": ticket_id})
            raise self.retry(exc=error, countdown=delay) from error
        logger.info("triaged", extra={"ticket_id": ticket_id, "outcome": outcome.value})
        return outcome.value

    task: Task = triage
    return task
