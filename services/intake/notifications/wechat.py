"""Messages to residents: the `ResidentMessenger` port, WeChat 订阅消息 through `subscribeMessage.send`, and a
logging-only messenger for when no mini-program is configured."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import httpx
from pydantic import SecretStr

from linli.pii import scrub
from services.intake.notifications.delivery import AttemptResult, Outcome, ResidentMessage
from services.intake.notifications.settings import NotificationSettings

logger = logging.getLogger(__name__)

# errcodes of an access token that expired or was replaced: fetch a new one and send again at once.
TOKEN_ERRCODES = frozenset({40001, 40014, 42001})
# errcodes that mean "busy, try later"; every other non-zero errcode will not change by retrying.
RETRYABLE_ERRCODES = frozenset({-1, 45011})
# Renew this long before WeChat's stated expiry, so a token is never used in its last seconds.
TOKEN_EXPIRY_MARGIN_SECONDS = 300.0


class MessengerError(Exception):
    """A message that was not sent; `retryable` says whether sending it again later may work."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class ResidentMessenger(Protocol):
    """Sends one templated message to one resident; raises MessengerError (or httpx.TransportError) on failure."""

    def send(self, resident_openid: str, template_id: str, data: Mapping[str, str]) -> None: ...


class AccessTokenProvider(Protocol):
    """Hands out the mini-program's access token; `force_refresh` when WeChat said the last one is no good."""

    def access_token(self, *, force_refresh: bool = False) -> str: ...


def mask_openid(openid: str) -> str:
    """Enough of an openid to tell residents apart in a log, not enough to message them."""
    return f"{openid[:4]}***"


def _json(response: httpx.Response, what: str) -> dict[str, Any]:
    if response.status_code >= 500:
        raise MessengerError(f"{what}: HTTP {response.status_code}", retryable=True)
    try:
        document = response.json()
    except ValueError as error:
        raise MessengerError(f"{what}: HTTP {response.status_code}, not JSON", retryable=False) from error
    if not isinstance(document, dict):
        raise MessengerError(f"{what}: unexpected answer {document!r:.80}", retryable=False)
    return document


def _errcode(document: dict[str, Any]) -> int:
    value = document.get("errcode", 0)
    return value if isinstance(value, int) else -1


class StableTokenProvider:
    """Access tokens from `/cgi-bin/stable_token`, cached until shortly before they expire.

    The stable-token endpoint, unlike `/cgi-bin/token`, does not invalidate the token other processes hold, so every
    worker process can keep its own cache.
    """

    def __init__(
        self,
        client: httpx.Client,
        *,
        base_url: str,
        appid: str,
        app_secret: SecretStr,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._url = f"{base_url.rstrip('/')}/cgi-bin/stable_token"
        self._appid = appid
        self._app_secret = app_secret
        self._clock = clock
        self._token = ""
        self._expires_at = 0.0
        self._lock = threading.Lock()  # worker threads share one cache and refresh it once

    def access_token(self, *, force_refresh: bool = False) -> str:
        """A valid token; fetched when there is none, it is about to expire, or `force_refresh`."""
        with self._lock:
            if force_refresh or not self._token or self._clock() >= self._expires_at:
                self._fetch(force_refresh=force_refresh)
            return self._token

    def _fetch(self, *, force_refresh: bool) -> None:
        request = {
            "grant_type": "client_credential",
            "appid": self._appid,
            "secret": self._app_secret.get_secret_value(),
            "force_refresh": force_refresh,
        }
        document = _json(self._client.post(self._url, json=request), "stable_token")
        token, expires_in = document.get("access_token"), document.get("expires_in")
        if not isinstance(token, str) or not token or not isinstance(expires_in, int):
            code = _errcode(document)
            raise MessengerError(
                f"stable_token: errcode {code} {document.get('errmsg', '')}", retryable=code in RETRYABLE_ERRCODES
            )
        self._token = token
        self._expires_at = self._clock() + max(expires_in - TOKEN_EXPIRY_MARGIN_SECONDS, 0.0)


class WeChatSubscribeMessenger:
    """Sends 订阅消息 through `POST /cgi-bin/message/subscribe/send`.

    Each subscription a resident grants in the mini-program allows one message; a resident without one is errcode
    43101, which is not retried.
    """

    def __init__(
        self,
        client: httpx.Client,
        tokens: AccessTokenProvider,
        *,
        base_url: str,
        miniprogram_state: str = "formal",
    ) -> None:
        self._client = client
        self._tokens = tokens
        self._url = f"{base_url.rstrip('/')}/cgi-bin/message/subscribe/send"
        self._miniprogram_state = miniprogram_state

    def send(self, resident_openid: str, template_id: str, data: Mapping[str, str]) -> None:
        """Sends one message; a token WeChat rejects is refreshed and the message sent once more."""
        request = {
            "touser": resident_openid,
            "template_id": template_id,
            "miniprogram_state": self._miniprogram_state,
            "lang": "zh_CN",
            "data": {key: {"value": value} for key, value in data.items()},
        }
        code, document = self._post(request, force_refresh=False)
        if code in TOKEN_ERRCODES:
            code, document = self._post(request, force_refresh=True)
        if code != 0:
            raise MessengerError(
                f"subscribeMessage.send: errcode {code} {document.get('errmsg', '')}",
                retryable=code in RETRYABLE_ERRCODES,
            )

    def _post(self, request: dict[str, Any], *, force_refresh: bool) -> tuple[int, dict[str, Any]]:
        token = self._tokens.access_token(force_refresh=force_refresh)
        response = self._client.post(self._url, params={"access_token": token}, json=request)
        document = _json(response, "subscribeMessage.send")
        return _errcode(document), document


class LoggingMessenger:
    """Logs the message it would send: the default until a mini-program is configured."""

    def send(self, resident_openid: str, template_id: str, data: Mapping[str, str]) -> None:
        """Logs the message with the openid masked and personal data scrubbed from the values."""
        logger.info(
            "resident message (logged only, no mini-program configured)",
            extra={
                "resident": mask_openid(resident_openid),
                "template_id": template_id,
                "data": {key: scrub(value) for key, value in data.items()},
            },
        )


def build_messenger(settings: NotificationSettings, client: httpx.Client) -> ResidentMessenger:
    """WeChat when an appid is configured, the logging messenger otherwise."""
    if not settings.wechat_appid or settings.wechat_app_secret is None:
        return LoggingMessenger()
    tokens = StableTokenProvider(
        client,
        base_url=settings.wechat_base_url,
        appid=settings.wechat_appid,
        app_secret=settings.wechat_app_secret,
    )
    return WeChatSubscribeMessenger(
        client, tokens, base_url=settings.wechat_base_url, miniprogram_state=settings.wechat_miniprogram_state
    )


def send_resident_message(messenger: ResidentMessenger, message: ResidentMessage) -> AttemptResult:
    """One attempt at sending `message`, with its outcome in the terms of the retry policy."""
    try:
        messenger.send(message.resident_openid, message.template_id, message.data)
    except MessengerError as error:
        return AttemptResult(Outcome.RETRY if error.retryable else Outcome.FAILED, str(error))
    except httpx.TransportError as error:
        return AttemptResult(Outcome.RETRY, f"{type(error).__name__}: {error}")
    return AttemptResult(Outcome.DELIVERED, "sent")
