"""Residents' login inside WeChat's browser: the official account's web authorization (网页授权, scope snsapi_base).

The H5 page sends the resident to open.weixin.qq.com/connect/oauth2/authorize; WeChat sends them back with `?code=`,
which `POST /v1/auth/wechat-web` exchanges here (`GET /sns/oauth2/access_token` with the account's appid and secret)
for the resident's openid *of the official account* — the resident id of these logins. It differs from the
mini-program's openid of the same person; WeChat adds a `unionid` when both are bound to one open-platform account,
the key to link the two later (logged as present or not, never used as the id here).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

import httpx

from linli.errors import Unauthenticated
from linli.tokens import TokenCodec
from services.intake.auth.residents import (
    DevVerifier,
    ResidentLogin,
    ResidentVerifier,
    check_wechat_answer,
    is_loopback,
    openid_in,
    wechat_document,
)
from services.intake.auth.settings import WeChatOaSettings

logger = logging.getLogger(__name__)

SCOPE = "snsapi_base"


class WeChatWebVerifier:
    """The official account's code-to-openid exchange (`GET /sns/oauth2/access_token`)."""

    def __init__(self, client: httpx.Client, *, base_url: str, appid: str, app_secret: str) -> None:
        self._client = client
        self._url = f"{base_url.rstrip('/')}/sns/oauth2/access_token"
        self._appid = appid
        self._secret = app_secret

    def openid(self, code: str) -> str:
        """The official-account openid of the resident WeChat sent back with `code`."""
        params = {"appid": self._appid, "secret": self._secret, "code": code, "grant_type": "authorization_code"}
        document = wechat_document(self._client, self._url, params)
        check_wechat_answer(
            document, refused_code="微信授权已失效({reason}),请重新打开页面", exchange="web authorization"
        )
        # A page opened in WeChat's snapshot (朋友圈 preview) mode gets a stand-in openid, not the resident's.
        if document.get("is_snapshotuser") == 1:
            raise Unauthenticated("请点击页面底部的「使用完整服务」后再登录")
        openid = openid_in(document, answerer="WeChat web authorization")
        logger.info("official-account login", extra={"unionid_present": isinstance(document.get("unionid"), str)})
        return openid


@dataclass(frozen=True)
class WebLogin:
    """The official-account login: the exchange, and what the H5 page needs to start it (empty appid: no
    redirect; the development verifier takes `dev:<openid>` instead)."""

    login: ResidentLogin
    appid: str
    authorize_url: str

    def page_config(self) -> dict[str, str] | None:
        """What the H5 page reads to redirect inside WeChat; None when there is no official account."""
        if not self.appid:
            return None
        return {"appid": self.appid, "authorize_url": self.authorize_url, "scope": SCOPE}

    def authorize_link(self, redirect_uri: str, state: str) -> str:
        """The authorize URL the page builds (the same in Python, for tests and docs)."""
        query = urlencode(
            {"appid": self.appid, "redirect_uri": redirect_uri, "response_type": "code", "scope": SCOPE, "state": state}
        )
        return f"{self.authorize_url}?{query}#wechat_redirect"


def create_web_login(
    settings: WeChatOaSettings,
    codec: TokenCodec,
    *,
    resident_verifier: str,
    host: str,
    token_ttl: timedelta,
    client: httpx.Client | None = None,
) -> WebLogin | None:
    """The official-account login: with the `dev` resident verifier, `dev:<openid>` (loopback only); else WeChat's
    exchange when LINLI_WECHAT_OA_APPID is set; None when it is not."""
    verifier: ResidentVerifier
    if resident_verifier == "dev":
        if not is_loopback(host):
            raise RuntimeError("the dev resident verifier is only allowed when intake binds a loopback address")
        verifier = DevVerifier()
    elif not settings.appid:
        return None
    elif settings.app_secret is None:
        raise RuntimeError("LINLI_WECHAT_OA_APPID is set: LINLI_WECHAT_OA_APP_SECRET is needed too")
    else:
        verifier = WeChatWebVerifier(
            client or httpx.Client(timeout=settings.timeout_seconds),
            base_url=settings.base_url,
            appid=settings.appid,
            app_secret=settings.app_secret.get_secret_value(),
        )
    return WebLogin(ResidentLogin(verifier, codec, ttl=token_ttl), settings.appid, settings.authorize_url)
