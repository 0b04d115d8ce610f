"""Outbound notifications of ticket events: signed webhooks with retries, and WeChat messages to residents.

The ticket lifecycle builds an `OutboundEvent` after each committed change and calls `Notifier.publish`; a Celery
worker that called `register_tasks` delivers. See docs/notifications.md.
"""

from services.intake.notifications.events import KNOWN_KINDS, OutboundEvent
from services.intake.notifications.notifier import Notifier, create_notifier
from services.intake.notifications.settings import NotificationSettings, WebhookTarget, WeChatTemplateKeys
from services.intake.notifications.signing import InvalidSignature, sign, verify_signature
from services.intake.notifications.tasks import DELIVER_TASK, MESSAGE_RESIDENT_TASK, NOTIFY_QUEUE, register_tasks
from services.intake.notifications.templates import KIND_TEXTS, resident_template_data
from services.intake.notifications.wechat import (
    AccessTokenProvider,
    LoggingMessenger,
    MessengerError,
    ResidentMessenger,
    StableTokenProvider,
    WeChatSubscribeMessenger,
)

__all__ = [
    "DELIVER_TASK",
    "KIND_TEXTS",
    "KNOWN_KINDS",
    "MESSAGE_RESIDENT_TASK",
    "NOTIFY_QUEUE",
    "AccessTokenProvider",
    "InvalidSignature",
    "LoggingMessenger",
    "MessengerError",
    "NotificationSettings",
    "Notifier",
    "OutboundEvent",
    "ResidentMessenger",
    "StableTokenProvider",
    "WeChatSubscribeMessenger",
    "WeChatTemplateKeys",
    "WebhookTarget",
    "create_notifier",
    "register_tasks",
    "resident_template_data",
    "sign",
    "verify_signature",
]
