"""Typed settings of outbound notifications, read from LINLI_NOTIFY_* environment variables."""

from __future__ import annotations

from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from linli.settings import LinliSettings
from services.intake.notifications.events import is_kind

# Secrets are read from the environment only, so that none ends up in code, a config file or a test fixture.
MIN_SECRET_LENGTH = 16


class WebhookTarget(BaseModel):
    """One receiver: its URL and, optionally, the only event kinds it wants."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str = Field(description="http(s) URL that receives a POST for each event.")
    kinds: frozenset[str] | None = Field(None, description="Event kinds sent to this URL; unset means every kind.")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"must be an http(s) URL with a host, got {value!r}")
        return value

    @field_validator("kinds")
    @classmethod
    def _known_shape(cls, value: frozenset[str] | None) -> frozenset[str] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("an empty filter would send nothing; leave `kinds` out to send every kind")
        bad = sorted(kind for kind in value if not is_kind(kind))
        if bad:
            raise ValueError(f"event kinds are snake_case words, got {', '.join(map(repr, bad))}")
        return value

    def accepts(self, kind: str) -> bool:
        """Whether an event of `kind` goes to this target."""
        return self.kinds is None or kind in self.kinds

    def redacted_url(self) -> str:
        """The URL without credentials or query, which may hold tokens: safe to log."""
        parts = urlsplit(self.url)
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{parts.hostname}{port}{parts.path}"


class WeChatTemplateKeys(BaseModel):
    """The data keys of the subscription-message template chosen in the WeChat console, one per field we fill."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: str = Field("phrase1", description="Key of 工单状态 (a `phrase` field: at most 5 Chinese characters).")
    party: str = Field("thing2", description="Key of 处理部门.")
    note: str = Field("thing3", description="Key of 备注.")
    time: str = Field("time4", description="Key of 时间.")


class NotificationSettings(LinliSettings):
    """Webhooks for ticket events and WeChat subscription messages to residents."""

    # hide_input_in_errors: a validation error must not print the secrets it was given.
    model_config = SettingsConfigDict(
        env_prefix="LINLI_NOTIFY_", extra="forbid", frozen=True, hide_input_in_errors=True
    )
    env_only_fields: ClassVar[frozenset[str]] = frozenset({"hmac_secret", "wechat_app_secret"})

    webhooks: tuple[WebhookTarget, ...] = Field(
        (),
        description='JSON list of targets: `["https://a/hook", {"url": "https://b/hook", "kinds": ["resolved"]}]`.',
    )
    hmac_secret: SecretStr | None = Field(
        None, description="Key of the `X-Linli-Signature` HMAC; required with webhooks; environment only."
    )
    timeout_seconds: float = Field(5.0, gt=0, le=30, description="Deadline of one webhook POST.")
    max_attempts: int = Field(8, ge=1, le=20, description="Attempts per delivery, the first included.")
    backoff_base_seconds: float = Field(
        2.0, gt=0, description="Delay before the second attempt; doubles each attempt (with jitter), at most 2 min."
    )
    resident_message_kinds: frozenset[str] = Field(
        frozenset({"accepted", "resolved", "worker_message"}),
        description="Event kinds that send the resident a subscription message (each one spends a subscription).",
    )
    wechat_base_url: str = Field("https://api.weixin.qq.com", description="WeChat API base URL.")
    wechat_appid: str = Field("", description="Mini-program appid; empty: resident messages are only logged.")
    wechat_app_secret: SecretStr | None = Field(None, description="Mini-program app secret; environment only.")
    wechat_template_id: str = Field("", description="Subscription-message template id of ticket updates.")
    wechat_template_keys: WeChatTemplateKeys = Field(
        WeChatTemplateKeys(), description="JSON object: the template's data keys for status, party, note and time."
    )
    wechat_miniprogram_state: Literal["formal", "trial", "developer"] = Field(
        "formal", description="Which build of the mini-program a tapped message opens."
    )

    @field_validator("webhooks", mode="before")
    @classmethod
    def _bare_urls(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return tuple({"url": item} if isinstance(item, str) else item for item in value)
        return value

    @field_validator("hmac_secret", "wechat_app_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_SECRET_LENGTH:
            raise ValueError(f"must be at least {MIN_SECRET_LENGTH} characters (use 32 random bytes, hex)")
        return value

    @field_validator("resident_message_kinds")
    @classmethod
    def _kind_words(cls, value: frozenset[str]) -> frozenset[str]:
        bad = sorted(kind for kind in value if not is_kind(kind))
        if bad:
            raise ValueError(f"event kinds are snake_case words, got {', '.join(map(repr, bad))}")
        return value

    @field_validator("wechat_base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"must be an http(s) URL, got {value!r}")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _complete(self) -> NotificationSettings:
        if self.webhooks and self.hmac_secret is None:
            raise ValueError("webhooks are signed: set LINLI_NOTIFY_HMAC_SECRET")
        if self.wechat_appid and (self.wechat_app_secret is None or not self.wechat_template_id):
            raise ValueError("with LINLI_NOTIFY_WECHAT_APPID set LINLI_NOTIFY_WECHAT_APP_SECRET and _TEMPLATE_ID too")
        return self
