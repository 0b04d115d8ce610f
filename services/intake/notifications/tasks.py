"""The Celery side of notifications: publishing deliveries by task name, and the tasks that run them in a worker."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import httpx
from celery import Celery, Task
from celery.signals import celeryd_after_setup

from services.intake.notifications.delivery import (
    AttemptResult,
    Outcome,
    ResidentMessage,
    RetryPolicy,
    WebhookDelivery,
    log_attempt,
    post_webhook,
)
from services.intake.notifications.settings import NotificationSettings
from services.intake.notifications.wechat import ResidentMessenger, build_messenger, send_resident_message

logger = logging.getLogger(__name__)

DELIVER_TASK = "linli.notify.deliver"
MESSAGE_RESIDENT_TASK = "linli.notify.message_resident"
# Its own queue, so a backlog of retries to a dead receiver never delays the triage of new tickets.
NOTIFY_QUEUE = "notifications"
NOTIFY_TASKS = (DELIVER_TASK, MESSAGE_RESIDENT_TASK)
# Publishing happens right after a ticket commit; a dead broker must cost the caller a second, not a minute.
PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0.1, "interval_step": 0.4}


class CeleryDeliveries:
    """Queues deliveries as `linli.notify.*` tasks by name, so the publisher does not import the worker's code."""

    def __init__(self, app: Celery) -> None:
        self._app = app

    def webhook(self, delivery: WebhookDelivery) -> None:
        """Queues one webhook delivery; raises if the broker cannot be reached."""
        self._send(DELIVER_TASK, delivery.to_message())

    def resident(self, message: ResidentMessage) -> None:
        """Queues one resident message; raises if the broker cannot be reached."""
        self._send(MESSAGE_RESIDENT_TASK, message.to_message())

    def _send(self, task_name: str, argument: dict[str, Any]) -> None:
        self._app.send_task(
            task_name, args=[argument], queue=NOTIFY_QUEUE, retry=True, retry_policy=PUBLISH_RETRY_POLICY
        )


class _WorkerResources:
    """The HTTP client and messenger of a worker process, built on the first task (never at import or fork)."""

    def __init__(self, settings: NotificationSettings, messenger: ResidentMessenger | None) -> None:
        self._settings = settings
        self._messenger = messenger
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    def client(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(timeout=self._settings.timeout_seconds)
            return self._client

    def messenger(self) -> ResidentMessenger:
        if self._messenger is None:
            messenger = build_messenger(self._settings, self.client())
            with self._lock:
                self._messenger = self._messenger or messenger
        return self._messenger


def _guarded(attempt: Callable[[], AttemptResult], context: dict[str, object]) -> AttemptResult:
    """Runs one attempt; a bug becomes a failed attempt logged with the event id, instead of an anonymous crash."""
    try:
        return attempt()
    except Exception as error:
        logger.exception("notification attempt crashed", extra=context)
        return AttemptResult(Outcome.FAILED, f"{type(error).__name__}: {error}")


def _settle(task: Task, result: AttemptResult, policy: RetryPolicy, context: dict[str, object]) -> str:
    """Ends the task with `result`: done, given up (an ERROR log with the event id), or retried later."""
    attempts_made = int(task.request.retries) + 1
    if result.outcome is Outcome.DELIVERED:
        logger.info("notification delivered", extra={**context, "attempts": attempts_made})
        return Outcome.DELIVERED.value
    will_retry = policy.should_retry(result, attempts_made)
    log_attempt(result, attempts_made, will_retry=will_retry, context=context)
    if not will_retry:
        return Outcome.FAILED.value
    raise task.retry(countdown=policy.delay_seconds(attempts_made, result))


def register_tasks(app: Celery, *, settings: NotificationSettings, messenger: ResidentMessenger | None = None) -> None:
    """Registers `linli.notify.deliver` and `linli.notify.message_resident` on `app`, and makes its worker consume
    the notifications queue whatever `--queues` it was started with.

    Args:
        app: The intake's Celery app, as the worker process builds it.
        settings: Notification settings, read by the worker's main() (so a bad one stops the worker at start).
        messenger: How residents get messages; by default WeChat when configured, else logging only.
    """
    policy = RetryPolicy(settings.max_attempts, settings.backoff_base_seconds)
    resources = _WorkerResources(settings, messenger)
    secret = settings.hmac_secret
    options: dict[str, Any] = {
        "bind": True,
        "acks_late": True,  # a worker killed mid-delivery gives the message back: at least once
        "reject_on_worker_lost": True,
        "ignore_result": True,
        "max_retries": settings.max_attempts - 1,
        "shared": False,  # bound to this app's resources: an app created later in the process must not take it
    }

    # Routed, not given a `queue` attribute (Celery 6 drops those): whoever sends them without a queue, they wait
    # in the notifications queue, never behind a burst of triage.
    app.conf.task_routes = {**(app.conf.task_routes or {}), **{name: {"queue": NOTIFY_QUEUE} for name in NOTIFY_TASKS}}

    @app.task(name=DELIVER_TASK, **options)  # type: ignore[untyped-decorator]
    def deliver(self: Task, message: dict[str, Any]) -> str:
        delivery = WebhookDelivery.from_message(message)
        context: dict[str, object] = {"event_id": delivery.event_id, "kind": delivery.kind, "target": delivery.target}
        if secret is None:
            result = AttemptResult(Outcome.FAILED, "the worker has no LINLI_NOTIFY_HMAC_SECRET to sign with")
        else:
            result = _guarded(lambda: post_webhook(resources.client(), delivery, secret), context)
        return _settle(self, result, policy, context)

    @app.task(name=MESSAGE_RESIDENT_TASK, **options)  # type: ignore[untyped-decorator]
    def message_resident(self: Task, message: dict[str, Any]) -> str:
        resident_message = ResidentMessage.from_message(message)
        context: dict[str, object] = {
            "event_id": resident_message.event_id,
            "kind": resident_message.kind,
            "target": "resident",
            "ticket_id": resident_message.ticket_id,
        }
        result = _guarded(lambda: send_resident_message(resources.messenger(), resident_message), context)
        return _settle(self, result, policy, context)

    def consume_notify_queue(sender: str, instance: Any, **_: Any) -> None:
        # Runs after `--queues` was applied, so the triage worker's command line need not know about this queue.
        if instance.app is app:
            app.amqp.queues.select_add(NOTIFY_QUEUE)

    # weak=False: the handler is a closure that nothing else references; a weak one would be collected at once.
    celeryd_after_setup.connect(consume_notify_queue, weak=False, dispatch_uid=f"linli.notify.queue.{id(app)}")
