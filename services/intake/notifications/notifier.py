"""The notifier the ticket lifecycle calls after each committed change: fan one event out to its receivers."""

from __future__ import annotations

import logging
import uuid
from typing import Protocol

import httpx
from celery import Celery

from services.intake.notifications.delivery import (
    ResidentMessage,
    RetryPolicy,
    WebhookDelivery,
    post_webhook,
    run_with_retries,
)
from services.intake.notifications.events import KNOWN_KINDS, OutboundEvent, webhook_body
from services.intake.notifications.settings import NotificationSettings
from services.intake.notifications.tasks import CeleryDeliveries
from services.intake.notifications.templates import resident_template_data
from services.intake.notifications.wechat import ResidentMessenger, build_messenger, send_resident_message

logger = logging.getLogger(__name__)


class Notifier(Protocol):
    """Tells webhook receivers and residents about ticket events."""

    def publish(self, event: OutboundEvent) -> None:
        """Queues delivery of `event`; never raises, so a notification problem never undoes a ticket change."""
        ...


class Deliveries(Protocol):
    """Where deliveries go: Celery tasks, or inline with retries."""

    def webhook(self, delivery: WebhookDelivery) -> None: ...

    def resident(self, message: ResidentMessage) -> None: ...


class InlineDeliveries:
    """Delivers in the calling thread, retrying with the same policy as the Celery tasks (tests, embedded use).

    publish() then blocks for as long as the retries take: with the defaults, minutes for a receiver that is down.
    """

    def __init__(self, settings: NotificationSettings, client: httpx.Client, messenger: ResidentMessenger) -> None:
        self._secret = settings.hmac_secret
        self._client = client
        self._messenger = messenger
        self._policy = RetryPolicy(settings.max_attempts, settings.backoff_base_seconds)

    def webhook(self, delivery: WebhookDelivery) -> None:
        """Delivers one webhook, retrying; logs an error when it gives up."""
        secret = self._secret
        if secret is None:  # settings refuse webhooks without a secret; this guards hand-built deliveries
            raise RuntimeError("webhook deliveries need LINLI_NOTIFY_HMAC_SECRET")
        run_with_retries(
            lambda: post_webhook(self._client, delivery, secret),
            self._policy,
            context={"event_id": delivery.event_id, "kind": delivery.kind, "target": delivery.target},
        )

    def resident(self, message: ResidentMessage) -> None:
        """Sends one resident message, retrying; logs an error when it gives up."""
        run_with_retries(
            lambda: send_resident_message(self._messenger, message),
            self._policy,
            context={"event_id": message.event_id, "kind": message.kind, "target": "resident"},
        )


class OutboundNotifier:
    """Gives each event an id, sends it to every webhook target whose filter accepts it, and to the resident."""

    def __init__(self, settings: NotificationSettings, deliveries: Deliveries) -> None:
        self._settings = settings
        self._deliveries = deliveries

    def publish(self, event: OutboundEvent) -> None:
        """Queues the event for each receiver; a receiver that cannot be queued is logged and the others still are."""
        event_id = str(uuid.uuid4())  # one id for every target and every retry: receivers deduplicate on it
        context = {"event_id": event_id, "kind": event.kind, "ticket_id": event.ticket_id}
        try:
            self._publish(event, event_id, context)
        except Exception:  # e.g. the payload dict was changed after the event checked it: log, never raise
            logger.exception("notification not sent", extra=context)

    def _publish(self, event: OutboundEvent, event_id: str, context: dict[str, str]) -> None:
        body = webhook_body(event, event_id)
        for target in self._settings.webhooks:
            if not target.accepts(event.kind):
                continue
            delivery = WebhookDelivery(event_id, event.kind, target.url, target.redacted_url(), body)
            try:
                self._deliveries.webhook(delivery)
            except Exception:  # the broker or a bug: log it, the ticket change itself is committed
                logger.exception("could not queue webhook delivery", extra={**context, "target": delivery.target})
        if event.resident_openid and event.kind in self._settings.resident_message_kinds:
            message = ResidentMessage(
                event_id=event_id,
                kind=event.kind,
                ticket_id=event.ticket_id,
                resident_openid=event.resident_openid,
                template_id=self._settings.wechat_template_id,
                data=resident_template_data(event, self._settings.wechat_template_keys),
            )
            try:
                self._deliveries.resident(message)
            except Exception:
                logger.exception("could not queue resident message", extra=context)


def create_notifier(
    settings: NotificationSettings,
    *,
    celery_app: Celery | None = None,
    messenger: ResidentMessenger | None = None,
) -> Notifier:
    """The notifier for `settings`.

    Args:
        settings: Targets, secret, retry policy and WeChat configuration.
        celery_app: The intake's Celery app: deliveries become `linli.notify.*` tasks, run by a worker that called
            `register_tasks`. Without it, deliveries run inline in publish(), with the same retry policy.
        messenger: Inline mode only: how residents get messages (default: WeChat when configured, else logging).
            A worker takes its messenger in `register_tasks`.
    """
    for target in settings.webhooks:
        unknown = sorted((target.kinds or frozenset()) - KNOWN_KINDS)
        if unknown:  # maybe a kind the lifecycle added since, maybe a typo: say so once, at start
            logger.warning(
                "webhook filter names event kinds not emitted today: %s",
                ", ".join(unknown),
                extra={"target": target.redacted_url()},
            )
    if celery_app is not None:
        return OutboundNotifier(settings, CeleryDeliveries(celery_app))
    client = httpx.Client(timeout=settings.timeout_seconds)
    resident_messenger = messenger or build_messenger(settings, client)
    return OutboundNotifier(settings, InlineDeliveries(settings, client, resident_messenger))
