"""Intake's Celery tasks: triage each stored ticket once, sync resolved cases to retrieval, and the beat sweeps.

The task names (celery_app.py) are persisted in broker queues: they never change with the code's layout."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass

from celery import Celery, Task

from linli.clients.retrieval import EmbeddedTexts, RetrievalClient
from linli.clients.routing import RoutesComplaints
from linli.errors import InvalidArgument, NotFound, Unavailable
from linli.proto_time import optional_timestamp, to_timestamp
from linli.v1 import cases_pb2
from services.intake.settings import IntakeSettings
from services.intake.tickets.duplicates import Embedding
from services.intake.tickets.learning import LearnedCase, LearningFlows, SyncAction
from services.intake.tickets.sweeps import SweepFlows
from services.intake.triage.flows import TriageFlows, TriageOutcome
from services.intake.worker.celery_app import (
    AUTO_CLOSE_TASK,
    CASE_SYNC_TASK,
    ESCALATE_TASK,
    PHOTO_SWEEP_TASK,
    REQUEUE_TASK,
    RETENTION_TASK,
    TRIAGE_TASK,
)

logger = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 300.0
CASE_SYNC_MAX_RETRIES = 8  # then the sweep queues it again later: the pending flag stays set
UNAVAILABLE_NOTE = "自动分派暂不可用(已重试),请人工分派。"
REJECTED_NOTE = "自动分派无法处理这条内容,请人工分派。"


@dataclass
class TaskDeps:
    """What the tasks need: the flows over the ticket store and clients of routing and retrieval."""

    triage: TriageFlows
    learning: LearningFlows
    sweeps: SweepFlows
    routing: RoutesComplaints
    retrieval: RetrievalClient
    detect_duplicates: bool = True
    share_embedding: bool = True  # the duplicate check uses the vector routing made of the text


def case_to_proto(case: LearnedCase) -> cases_pb2.Case:
    """The wire form of a learned case: resolved, with its times."""
    return cases_pb2.Case(
        id=case.id,
        complaint=case.complaint,
        resolution=case.resolution,
        party=case.party,
        category=case.category,
        community=case.community,
        building=case.building,
        status=cases_pb2.CASE_STATUS_RESOLVED,
        created_at=to_timestamp(case.created_at),
        resolved_at=optional_timestamp(case.resolved_at),
    )


def triage_ticket(ticket_id: str, deps: TaskDeps) -> TriageOutcome:
    """Routes a RECEIVED ticket, stores the decision and links it to an open duplicate; nothing if triaged already.

    Idempotent: a redelivered message (worker killed after routing but before acknowledging) finds the ticket
    triaged and stops, and the store records a decision only on a RECEIVED row it holds locked, so a ticket is
    never routed twice into two parties.

    Raises:
        Unavailable: routing could not answer; the caller retries.
        InvalidArgument: routing rejected the text; retrying will not help.
    """
    pending = deps.triage.pending_triage(ticket_id)
    if pending is None:
        return TriageOutcome.ALREADY_TRIAGED
    # Routing embeds the text and sends its vector back: the duplicate check uses it, one Embed per ticket.
    routed = deps.routing.route(text=pending.text, community=pending.community, building=pending.building)
    embedded = routed.embedding if deps.share_embedding else None
    if deps.detect_duplicates and embedded is None:  # a long letter, or an older routing server
        embedded = _embed_for_duplicates(pending.text, ticket_id, deps)
    if embedded is None or not deps.detect_duplicates:
        return deps.triage.record_triage(ticket_id, routed.decision, None)
    return deps.triage.record_triage(ticket_id, routed.decision, Embedding(embedded.vectors[0], embedded.model))


def _embed_for_duplicates(text: str, ticket_id: str, deps: TaskDeps) -> EmbeddedTexts | None:
    try:
        return deps.retrieval.embed([text])
    except Unavailable as error:
        # Duplicates are a help, routing is the job: the ticket is routed without them rather than left waiting.
        logger.warning("no embedding, duplicates not checked: %s", error, extra={"ticket_id": ticket_id})
        return None


def sync_case(ticket_id: str, deps: TaskDeps) -> str:
    """Teaches retrieval a resolved ticket's case, or makes it forget a reopened one; returns what it did.

    Raises:
        Unavailable: retrieval could not answer; the caller retries.
    """
    sync = deps.learning.pending_case_sync(ticket_id)
    if sync is None:
        return "nothing_pending"
    try:
        if sync.action is SyncAction.UPSERT and sync.case is not None:
            deps.retrieval.upsert_cases([case_to_proto(sync.case)])
        else:
            deps.retrieval.delete_cases([sync.case_id])
    except InvalidArgument as error:
        # Retrying will not make retrieval accept it; say so loudly and stop asking.
        logger.error("retrieval refused the case: %s", error, extra={"ticket_id": ticket_id})
    deps.learning.mark_case_synced(ticket_id, sync.version)
    return sync.action.value


def backoff_seconds(retries: int, base: float, cap: float = MAX_BACKOFF_SECONDS) -> float:
    """Exponential backoff with full jitter, so a recovering service is not hit by a thundering herd."""
    return float(random.uniform(0, min(cap, base * 2**retries)))  # noqa: S311 - not security


def register_tasks(app: Celery, deps: Callable[[], TaskDeps], settings: IntakeSettings) -> dict[str, Task]:
    """Registers intake's tasks on `app`; `deps` is called in the worker, never at import time.

    Each task is `shared=False`: it closes over this app's `deps`, and Celery would otherwise also register it on
    every app created later in the process, where it would run with the first app's dependencies.
    """
    # A retry countdown longer than the visibility timeout would be delivered twice while it waits.
    cap = min(MAX_BACKOFF_SECONDS, settings.broker_visibility_timeout_seconds / 2)
    base = settings.triage_retry_backoff_seconds

    @app.task(name=TRIAGE_TASK, shared=False, bind=True, max_retries=settings.triage_max_retries)  # type: ignore[untyped-decorator]
    def triage(self: Task, ticket_id: str) -> str:
        flows = deps().triage
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
            delay = backoff_seconds(self.request.retries, base, cap)
            logger.warning("routing unavailable, retrying in %.1f s", delay, extra={"ticket_id": ticket_id})
            raise self.retry(exc=error, countdown=delay) from error
        logger.info("triaged", extra={"ticket_id": ticket_id, "outcome": outcome.value})
        return outcome.value

    @app.task(name=CASE_SYNC_TASK, shared=False, bind=True, max_retries=CASE_SYNC_MAX_RETRIES)  # type: ignore[untyped-decorator]
    def case_sync(self: Task, ticket_id: str) -> str:
        try:
            return sync_case(ticket_id, deps())
        except NotFound:
            logger.error("case sync of a ticket that does not exist", extra={"ticket_id": ticket_id})
            return "missing"
        except Unavailable as error:
            if self.request.retries >= self.max_retries:
                logger.error("case sync gave up; the sweep retries later: %s", error, extra={"ticket_id": ticket_id})
                return "gave_up"
            raise self.retry(exc=error, countdown=backoff_seconds(self.request.retries, base, cap)) from error

    return {task.name: task for task in (triage, case_sync, *_register_sweeps(app, deps))}


def _register_sweeps(app: Celery, deps: Callable[[], TaskDeps]) -> tuple[Task, ...]:
    """Beat's periodic sweeps: re-queue stuck tickets, escalate overdue ones, close unrated ones, anonymize old ones,
    forget photos no ticket took."""

    @app.task(name=REQUEUE_TASK, shared=False)  # type: ignore[untyped-decorator]
    def requeue_stuck() -> dict[str, int]:
        report = deps().sweeps.requeue_stuck()
        return {"triage": report.triage, "case_sync": report.case_sync}

    @app.task(name=ESCALATE_TASK, shared=False)  # type: ignore[untyped-decorator]
    def escalate_overdue() -> int:
        return deps().sweeps.escalate_overdue()

    @app.task(name=AUTO_CLOSE_TASK, shared=False)  # type: ignore[untyped-decorator]
    def close_unrated() -> int:
        return deps().sweeps.close_unrated()

    @app.task(name=RETENTION_TASK, shared=False)  # type: ignore[untyped-decorator]
    def anonymize_expired() -> int:
        return deps().sweeps.anonymize_expired()

    @app.task(name=PHOTO_SWEEP_TASK, shared=False)  # type: ignore[untyped-decorator]
    def forget_unattached_photos() -> int:
        return deps().sweeps.forget_unattached_photos()

    return (requeue_stuck, escalate_overdue, close_unrated, anonymize_expired, forget_unattached_photos)
