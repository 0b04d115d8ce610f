"""Every settings class of every process, gathered here (the composition root) for `linli settings` and the README."""

from __future__ import annotations

from linli.settings import AuthSettings, GrpcTlsSettings, LinliSettings, LogSettings, settings_table
from services.intake.auth.settings import SmsSettings, WeChatOaSettings, WecomSettings
from services.intake.notifications.settings import NotificationSettings
from services.intake.settings import IntakeSettings, RateLimitSettings
from services.intake.uploads.settings import UploadSettings
from services.retrieval.settings import RetrievalSettings
from services.routing.history.settings import HistorySettings
from services.routing.settings import RoutingSettings

# The README's order: the services first, then the settings they share.
ALL_SETTINGS: tuple[type[LinliSettings], ...] = (
    IntakeSettings,
    RetrievalSettings,
    RoutingSettings,
    AuthSettings,
    RateLimitSettings,
    GrpcTlsSettings,
    LogSettings,
)


# Every settings class of every process: the services' own parts (notifications, uploads, logins, history import).
DOCUMENTED_SETTINGS: tuple[type[LinliSettings], ...] = (
    *ALL_SETTINGS,
    NotificationSettings,
    UploadSettings,
    SmsSettings,
    WeChatOaSettings,
    WecomSettings,
    HistorySettings,
)


def documented_settings_table() -> str:
    """The README's table: every setting of every process."""
    return settings_table(DOCUMENTED_SETTINGS)
