"""The Celery app of the triage queue, configured so that a crash or a broker hiccup loses no ticket."""

from __future__ import annotations

from celery import Celery

from linli.settings import IntakeSettings

TRIAGE_TASK = "linli.triage"
TRIAGE_QUEUE = "triage"
PUBLISH_RETRIES = 2


def create_celery_app(settings: IntakeSettings) -> Celery:
    """A Celery app on `settings.broker_url` with late acknowledgement and one task prefetched at a time."""
    app = Celery("linli", broker=settings.broker_url, set_as_current=False)
    time_limit = settings.triage_time_limit_seconds
    app.conf.update(
        # Acknowledge after the task ran, and give the message back if the worker dies mid-task.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_time_limit=time_limit,
        task_soft_time_limit=max(time_limit - 5, 1),
        task_ignore_result=True,
        task_default_queue=TRIAGE_QUEUE,
        task_serializer="json",
        accept_content=["json"],
        broker_transport_options=_transport_options(settings.broker_url, time_limit),
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
    )
    return app


def _transport_options(broker_url: str, time_limit: int) -> dict[str, float]:
    if broker_url.startswith(("redis://", "rediss://")):
        # An unacknowledged message returns to the queue after this; it must outlast the longest task.
        return {"visibility_timeout": 2 * time_limit + 60}
    # The SQLAlchemy transport hands its options to create_engine(); it takes none of Redis's.
    return {}


class CeleryTriageQueue:
    """Publishes triage tasks by name, so the publisher does not import the worker's code."""

    def __init__(self, app: Celery) -> None:
        self._app = app

    def enqueue(self, ticket_id: str) -> None:
        """Queues one triage; raises after a few quick retries if the broker cannot be reached."""
        self._app.send_task(
            TRIAGE_TASK,
            args=[ticket_id],
            queue=TRIAGE_QUEUE,
            retry=True,
            retry_policy={"max_retries": PUBLISH_RETRIES, "interval_start": 0.2, "interval_step": 0.5},
        )
