"""Intake's metrics, declared: requests, tickets, queue depth (intake process); triage latency, SLA breaches (worker).

Only the definitions and when to record the after-commit ones live here; the HTTP middleware, the database and
broker collectors and the Celery hooks that feed or expose them are in `services/intake/observability.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram

from linli.metrics import LATENCY_BUCKETS, RpcMetrics


class AfterCommit(Protocol):
    """A unit of work that runs actions once its transaction committed (`tickets.context.Work`)."""

    def after_commit(self, action: Callable[[], None]) -> None:
        """Runs `action` after the commit, never after a rollback."""


# What the intake process (HTTP and gRPC) records.
API_REGISTRY = CollectorRegistry()
RPC = RpcMetrics("intake", API_REGISTRY)
HTTP_SECONDS = Histogram(
    "linli_intake_http_request_seconds",
    "Time to answer an HTTP request, by method, route template and status code.",
    ["method", "route", "status"],
    buckets=LATENCY_BUCKETS,
    registry=API_REGISTRY,
)
HTTP_REQUESTS = Counter(
    "linli_intake_http_requests",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
    registry=API_REGISTRY,
)
TICKETS_SUBMITTED = Counter(
    "linli_intake_tickets_submitted", "New tickets stored (idempotent replays not counted).", registry=API_REGISTRY
)
TICKETS_SPLIT = Counter(
    "linli_intake_tickets_split",
    "Tickets a worker split off from another ticket's message (一单多事).",
    registry=API_REGISTRY,
)
RESIDENTS_ERASED = Counter(
    "linli_intake_residents_erased",
    "Residents whose personal data was erased at their request (DELETE /v1/me and, in its own process, the CLI).",
    registry=API_REGISTRY,
)
RATE_LIMITED = Counter(
    "linli_intake_rate_limited",
    "Requests refused by a rate limit, by scope (resident_submit, resident_write, ip, ip_login).",
    ["scope"],
    registry=API_REGISTRY,
)

# What the Celery worker records.
WORKER_REGISTRY = CollectorRegistry()
# Triage normally takes seconds; a broker or routing outage stretches it to the retries' minutes.
TRIAGE_SECONDS = Histogram(
    "linli_intake_triage_seconds",
    "From submission to the triage decision being stored, by outcome (routed, needs_manual, merged).",
    ["outcome"],
    buckets=(0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0),
    registry=WORKER_REGISTRY,
)
SLA_BREACHES = Counter(
    "linli_intake_sla_breaches",
    "Open tickets found past their deadline (and escalated), by the level that missed it.",
    ["level"],
    registry=WORKER_REGISTRY,
)
AUTO_CLOSED = Counter(
    "linli_intake_auto_closed",
    "Resolved tickets closed because their resident did not rate them within the follow-up period.",
    registry=WORKER_REGISTRY,
)
TICKETS_ANONYMIZED = Counter(
    "linli_intake_tickets_anonymized",
    "Closed tickets anonymized because LINLI_INTAKE_PERSONAL_DATA_RETENTION_DAYS passed.",
    registry=WORKER_REGISTRY,
)
ROUTE_BATCH_SIZE = Histogram(
    "linli_intake_route_batch_size",
    "Complaints per call to routing: the triage threads' tickets that waited for one call in flight go together.",
    buckets=(1, 2, 3, 4, 6, 8, 12, 16, 32, 64),
    registry=WORKER_REGISTRY,
)
TASK_SECONDS = Histogram(
    "linli_intake_task_seconds",
    "Time of one Celery task run, by task and final state (SUCCESS, RETRY, FAILURE).",
    ["task", "state"],
    buckets=LATENCY_BUCKETS,
    registry=WORKER_REGISTRY,
)


def observe_triage(work: AfterCommit, *, created_at: datetime, decided_at: datetime, outcome: str) -> None:
    """Records how long a ticket waited for triage, once the transaction storing the decision committed."""
    seconds = max((decided_at - created_at).total_seconds(), 0.0)
    work.after_commit(lambda: TRIAGE_SECONDS.labels(outcome).observe(seconds))


def record_sla_breach(work: AfterCommit, *, level: str) -> None:
    """Counts an overdue ticket at `level`, once the escalation committed."""
    work.after_commit(SLA_BREACHES.labels(level).inc)


def record_auto_closed(work: AfterCommit, count: int) -> None:
    """Counts `count` tickets closed unrated, once their closing committed."""
    if count:
        work.after_commit(lambda: AUTO_CLOSED.inc(count))
