"""Residents' login: a mini-program login code is exchanged for the resident's openid, then for our token.

The verifier is pluggable (`LINLI_AUTH_RESIDENT_VERIFIER`): `wechat` asks WeChat's `jscode2session`; `dev` takes
codes `dev:<openid>` on trust, for development and tests, and is refused unless intake binds a loopback address
(anyone who can reach it could otherwise sign in as any resident).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import httpx

from linli.errors import InvalidArgument, Unauthenticated, Unavailable
from linli.settings import AuthSettings
from linli.tokens import TokenCodec, TokenKind

logger = logging.getLogger(__name__)

DEV_PREFIX = "dev:"
# WeChat's openids are 28 characters of this alphabet; dev ones may be any short word of it.
OPENID = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_CODE_LENGTH = 256
# jscode2session errcodes a resident can fix by logging in again (a new wx.login code).
BAD_CODE_ERRCODES = {40029: "invalid code", 40163: "code already used", 40226: "user blocked by WeChat's risk control"}
# errcodes that say WeChat is busy: the same code may work in a moment.
BUSY_ERRCODES = {-1: "system busy", 45011: "API call frequency limit"}


class ResidentVerifier(Protocol):
    """Turns a login code into the resident's openid; raises Unauthenticated or Unavailable."""

    def openid(self, code: str) -> str: ...


class DevVerifier:
    """Development logins: the code `dev:<openid>` is the resident `<openid>`, no questions asked."""

    def openid(self, code: str) -> str:
        """The openid after `dev:`; Unauthenticated for any other code."""
        openid = code.removeprefix(DEV_PREFIX)
        if not code.startswith(DEV_PREFIX) or not OPENID.fullmatch(openid):
            raise Unauthenticated("development login codes are `dev:<openid>` (letters, digits, - and _)")
        return openid


class WeChatVerifier:
    """WeChat's code-to-session exchange (`GET /sns/jscode2session`)."""

    def __init__(self, client: httpx.Client, *, base_url: str, appid: str, app_secret: str) -> None:
        self._client = client
        self._url = f"{base_url.rstrip('/')}/sns/jscode2session"
        self._appid = appid
        self._secret = app_secret

    def openid(self, code: str) -> str:
        """The openid of the resident whose wx.login gave `code`."""
        params = {"appid": self._appid, "secret": self._secret, "js_code": code, "grant_type": "authorization_code"}
        return self._openid_of(wechat_document(self._client, self._url, params))

    @staticmethod
    def _openid_of(document: dict[str, object]) -> str:
        check_wechat_answer(
            document,
            refused_code="the login code was refused ({reason}); call wx.login again",
            exchange="login exchange",
        )
        return openid_in(document, answerer="WeChat login")


def check_wechat_answer(document: dict[str, object], *, refused_code: str, exchange: str) -> None:
    """Raises for a WeChat answer that carries an errcode: Unauthenticated for a refused code (`refused_code`,
    formatted with its `reason`), Unavailable when WeChat is busy or refuses our configuration."""
    errcode = document.get("errcode", 0)
    if errcode in BAD_CODE_ERRCODES:
        raise Unauthenticated(refused_code.format(reason=BAD_CODE_ERRCODES[errcode]))
    if errcode in BUSY_ERRCODES:
        raise Unavailable(f"WeChat login is busy ({BUSY_ERRCODES[errcode]}); try again shortly")
    if errcode:
        # 40013 invalid appid, 40125 invalid secret, ...: our configuration, not the resident's code.
        logger.error(f"WeChat refused the {exchange}", extra={"errcode": errcode, "errmsg": document.get("errmsg")})
        raise Unavailable(f"WeChat refused the {exchange} (errcode {errcode}); the operator has been told")


def openid_in(document: dict[str, object], *, answerer: str) -> str:
    """The openid of a WeChat answer; Unavailable when it holds none that is valid."""
    openid = document.get("openid")
    if not isinstance(openid, str) or not OPENID.fullmatch(openid):
        raise Unavailable(f"{answerer} answered without a valid openid")
    return openid


def wechat_document(client: httpx.Client, url: str, params: dict[str, str]) -> dict[str, object]:
    """The JSON object a WeChat API answers to GET `url`; Unavailable when it cannot be had."""
    try:
        response = client.get(url, params=params)
    except httpx.TimeoutException as error:
        raise Unavailable("WeChat login did not answer in time; try again") from error
    except httpx.TransportError as error:
        raise Unavailable("WeChat login cannot be reached; try again") from error
    if response.status_code != 200:
        raise Unavailable(f"WeChat login answered HTTP {response.status_code}; try again")
    try:  # WeChat sends JSON as text/plain
        document = json.loads(response.text)
    except ValueError as error:
        raise Unavailable("WeChat login answered something that is not JSON") from error
    if not isinstance(document, dict):
        raise Unavailable("WeChat login answered something unexpected")
    return document


def is_loopback(host: str) -> bool:
    """True for localhost and the loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def create_verifier(settings: AuthSettings, *, host: str, client: httpx.Client | None = None) -> ResidentVerifier:
    """The verifier `LINLI_AUTH_RESIDENT_VERIFIER` names; raises RuntimeError when it cannot be used safely."""
    if settings.resident_verifier == "dev":
        if not is_loopback(host):
            raise RuntimeError(
                "LINLI_AUTH_RESIDENT_VERIFIER=dev lets anyone sign in as any resident: it is only allowed when intake "
                f"binds a loopback address, not {host!r}; use `wechat` with LINLI_AUTH_WECHAT_APPID/_APP_SECRET"
            )
        return DevVerifier()
    if not settings.wechat_appid or settings.wechat_app_secret is None:
        raise RuntimeError(
            "LINLI_AUTH_RESIDENT_VERIFIER=wechat needs LINLI_AUTH_WECHAT_APPID and LINLI_AUTH_WECHAT_APP_SECRET "
            "(for development on 127.0.0.1, set LINLI_AUTH_RESIDENT_VERIFIER=dev)"
        )
    return WeChatVerifier(
        client or httpx.Client(timeout=settings.wechat_timeout_seconds),
        base_url=settings.wechat_base_url,
        appid=settings.wechat_appid,
        app_secret=settings.wechat_app_secret.get_secret_value(),
    )


@dataclass(frozen=True)
class Session:
    """What a successful login returns."""

    token: str
    expires_at: datetime
    resident_id: str


class ResidentLogin:
    """Exchanges a login code for a resident token."""

    def __init__(self, verifier: ResidentVerifier, codec: TokenCodec, *, ttl: timedelta) -> None:
        self._verifier = verifier
        self._codec = codec
        self._ttl = ttl

    def login(self, code: str) -> Session:
        """The resident's token; InvalidArgument for an empty code, Unauthenticated for a refused one."""
        if not code.strip() or len(code) > MAX_CODE_LENGTH:
            raise InvalidArgument.for_field("code", f"must be the login code, 1-{MAX_CODE_LENGTH} characters")
        openid = self._verifier.openid(code.strip())
        token, claims = self._codec.issue(TokenKind.RESIDENT, openid, ttl=self._ttl)
        return Session(token, claims.expires_at, openid)
