"""The Celery app of intake's background work, configured so that a crash or a broker hiccup loses no ticket."""

from __future__ import annotations

from typing import Any

from celery import Celery

from services.intake.settings import IntakeSettings

TRIAGE_TASK = "linli.triage"
CASE_SYNC_TASK = "linli.sync_case"
REQUEUE_TASK = "linli.requeue_stuck"
ESCALATE_TASK = "linli.escalate_overdue"
AUTO_CLOSE_TASK = "linli.close_unrated"
RETENTION_TASK = "linli.anonymize_expired"
PHOTO_SWEEP_TASK = "linli.forget_unattached_photos"
TRIAGE_QUEUE = "triage"
# Sweeps and case syncs have their own queue, so a burst of new tickets never delays an escalation.
LIFECYCLE_QUEUE = "lifecycle"
PUBLISH_RETRIES = 2
SWEEP_TASKS = (REQUEUE_TASK, ESCALATE_TASK, AUTO_CLOSE_TASK, RETENTION_TASK, PHOTO_SWEEP_TASK)
# Beat's entry names (kept in its schedule file) and the sweep each sends.
_SWEEP_SCHEDULE = {
    "requeue-stuck": REQUEUE_TASK,
    "escalate-overdue": ESCALATE_TASK,
    "close-unrated": AUTO_CLOSE_TASK,
    "anonymize-expired": RETENTION_TASK,
    "forget-unattached-photos": PHOTO_SWEEP_TASK,
}


def create_celery_app(settings: IntakeSettings) -> Celery:
    """A Celery app on `settings.broker_url` with late acknowledgement, one task prefetched, and the beat schedule."""
    app = Celery("linli", broker=settings.broker_url, set_as_current=False)
    time_limit = settings.triage_time_limit_seconds
    sweep_every = settings.sweep_interval_seconds
    app.conf.update(
        # Acknowledge after the task ran, and give the message back if the worker dies mid-task.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_time_limit=time_limit,
        task_soft_time_limit=max(time_limit - 5, 1),
        task_ignore_result=True,
        task_default_queue=TRIAGE_QUEUE,
        task_routes={name: {"queue": LIFECYCLE_QUEUE} for name in (CASE_SYNC_TASK, *SWEEP_TASKS)},
        task_serializer="json",
        accept_content=["json"],
        broker_transport_options=_transport_options(settings),
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        beat_schedule={
            # A sweep nobody ran within its interval is stale: the next one does the same work.
            # anonymize-expired does nothing while LINLI_INTAKE_PERSONAL_DATA_RETENTION_DAYS is 0.
            entry: {
                "task": task,
                "schedule": sweep_every,
                "options": {"queue": LIFECYCLE_QUEUE, "expires": sweep_every},
            }
            for entry, task in _SWEEP_SCHEDULE.items()
        },
    )
    return app


def _transport_options(settings: IntakeSettings) -> dict[str, Any]:
    if settings.broker_url.startswith(("redis://", "rediss://")):
        visibility = settings.broker_visibility_timeout_seconds
        return {
            # An unacknowledged message returns to the queue after this; it must outlast the longest task.
            "visibility_timeout": visibility,
            # Look for abandoned messages a few times per visibility timeout, not once every ~100 s.
            "unacked_restore_interval": max(1, min(10, visibility // 10)),
            "unacked_restore_throttle": 1,
        }
    # The SQLAlchemy transport hands its options to create_engine(); it takes none of Redis's.
    return {}


class CeleryTaskQueue:
    """Publishes intake's tasks by name, so the publisher does not import the worker's code."""

    def __init__(self, app: Celery) -> None:
        self._app = app

    def enqueue_triage(self, ticket_id: str) -> None:
        """Queues one triage; raises after a few quick retries if the broker cannot be reached."""
        self._send(TRIAGE_TASK, ticket_id, TRIAGE_QUEUE)

    def enqueue_case_sync(self, ticket_id: str) -> None:
        """Queues the sync of one ticket's case to retrieval; raises if the broker cannot be reached."""
        self._send(CASE_SYNC_TASK, ticket_id, LIFECYCLE_QUEUE)

    def _send(self, task: str, ticket_id: str, queue: str) -> None:
        self._app.send_task(
            task,
            args=[ticket_id],
            queue=queue,
            retry=True,
            retry_policy={"max_retries": PUBLISH_RETRIES, "interval_start": 0.2, "interval_step": 0.5},
        )
