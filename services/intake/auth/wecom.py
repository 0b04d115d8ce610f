"""Workers' login through WeCom (企业微信) OAuth, for the console (tokens stay for services and scripts).

`start` sends the worker to WeCom — inside the WeCom app to its authorize page (snsapi_base), elsewhere to the QR-code
web login — with a `state` that is signed, expires in minutes, is bound to the browser by a cookie and is redeemed
once (CSRF and replay). WeCom sends the worker back with `?code=`, which the verifier exchanges for their WeCom userid:
`wecom` asks `cgi-bin/gettoken` (the access token cached until it expires) then `cgi-bin/auth/getuserinfo`; `dev`
takes `dev:<userid>` on trust and is refused unless intake binds a loopback address, as the residents' dev verifier.
The userid must belong to an active worker of the organisation tables; the worker then gets a short session token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol
from urllib.parse import urlencode

import httpx

from linli.errors import InvalidArgument, PermissionDenied, Unauthenticated, Unavailable
from linli.tokens import TokenCodec, TokenKind
from services.intake.auth.identity import Worker
from services.intake.auth.residents import DEV_PREFIX, check_wechat_answer, is_loopback, wechat_document
from services.intake.auth.settings import WecomSettings

logger = logging.getLogger(__name__)

USERID = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
MAX_CODE_LENGTH = 512
# getuserinfo's answers when the cached access token is no longer good: fetch a new one and ask once more.
STALE_TOKEN_ERRCODES = frozenset({40014, 42001})
# An access token is refreshed this long before WeCom says it expires.
TOKEN_MARGIN_SECONDS = 300
CALLBACK_PATH = "/v1/auth/wecom/callback"

# The organisation's answer to "which active worker is this WeCom account?" (None: unknown or deactivated).
WorkerLookup = Callable[[str], Worker | None]


class WecomVerifier(Protocol):
    """Turns the code WeCom sent back into the worker's WeCom userid; raises Unauthenticated or Unavailable."""

    def userid(self, code: str) -> str: ...


class DevWecomVerifier:
    """Development logins: the code `dev:<userid>` is the WeCom user `<userid>`, no questions asked."""

    def userid(self, code: str) -> str:
        """The userid after `dev:`; Unauthenticated for any other code."""
        userid = code.removeprefix(DEV_PREFIX)
        if not code.startswith(DEV_PREFIX) or not USERID.fullmatch(userid):
            raise Unauthenticated("开发模式的企业微信登录码为 dev:<userid>(字母、数字、_ . @ -)")
        return userid


class WecomApiVerifier:
    """WeCom's exchange: the app's access token (`GET /cgi-bin/gettoken`, cached), then `GET
    /cgi-bin/auth/getuserinfo` for the userid of the code."""

    def __init__(
        self,
        client: httpx.Client,
        *,
        base_url: str,
        corp_id: str,
        secret: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._base = base_url.rstrip("/")
        self._corp_id = corp_id
        self._secret = secret
        self._clock = clock
        self._lock = threading.Lock()
        self._token: tuple[str, float] | None = None  # (access token, when to stop using it)

    def userid(self, code: str) -> str:
        """The WeCom userid of the member who authorized with `code`; PermissionDenied for a non-member."""
        for attempt in range(2):
            document = wechat_document(
                self._client,
                f"{self._base}/cgi-bin/auth/getuserinfo",
                {"access_token": self._access_token(), "code": code},
            )
            if document.get("errcode") in STALE_TOKEN_ERRCODES and attempt == 0:
                self._forget_token()
                continue
            break
        check_wechat_answer(document, refused_code="企业微信授权已失效({reason}),请重新登录", exchange="WeCom login")
        userid = document.get("userid")
        if not isinstance(userid, str) or not USERID.fullmatch(userid):
            # An outsider (not a member of the corp) comes back with an openid only.
            raise PermissionDenied("这个企业微信账号不是本单位成员,不能登录工作台")
        return userid

    def _access_token(self) -> str:
        with self._lock:
            now = self._clock()
            if self._token is not None and now < self._token[1]:
                return self._token[0]
            params = {"corpid": self._corp_id, "corpsecret": self._secret}
            document = wechat_document(self._client, f"{self._base}/cgi-bin/gettoken", params)
            check_wechat_answer(document, refused_code="企业微信拒绝了应用凭证({reason})", exchange="WeCom gettoken")
            token, expires_in = document.get("access_token"), document.get("expires_in", 7200)
            if not isinstance(token, str) or not token or not isinstance(expires_in, int):
                raise Unavailable("WeCom answered gettoken without an access token")
            self._token = (token, now + max(expires_in - TOKEN_MARGIN_SECONDS, 0))
            return token

    def _forget_token(self) -> None:
        with self._lock:
            self._token = None


class LoginStates:
    """The `state` of the OAuth round trip: `nonce.expiry.signature`, the nonce also in a cookie of the browser that
    started it, each redeemed once (kept in memory until it expires)."""

    def __init__(self, key: bytes, *, ttl: timedelta, clock: Callable[[], float] = time.time) -> None:
        # A key of its own, derived: a state is never mistaken for anything else the signing key signs.
        self._key = hmac.new(key, b"linli/wecom-login-state", hashlib.sha256).digest()
        self._ttl = int(ttl.total_seconds())
        self._clock = clock
        self._lock = threading.Lock()
        self._redeemed: dict[str, int] = {}

    @property
    def ttl_seconds(self) -> int:
        """How long a state is good for."""
        return self._ttl

    def issue(self) -> tuple[str, str]:
        """A new state and its nonce (for the cookie)."""
        nonce = secrets.token_urlsafe(18)
        body = f"{nonce}.{int(self._clock()) + self._ttl}"
        return f"{body}.{self._sign(body)}", nonce

    def redeem(self, state: str, cookie_nonce: str | None) -> None:
        """Accepts a state once; PermissionDenied when forged, expired, from another browser or used already."""
        refused = PermissionDenied("登录请求已失效或不是从本页面发起,请重新点击「企业微信登录」")
        nonce, _, rest = state.partition(".")
        expiry_text, _, signature = rest.partition(".")
        body = f"{nonce}.{expiry_text}"
        if not signature or not hmac.compare_digest(self._sign(body), signature) or not expiry_text.isdigit():
            raise refused
        now, expiry = int(self._clock()), int(expiry_text)
        if now >= expiry or cookie_nonce is None or not hmac.compare_digest(nonce, cookie_nonce):
            raise refused
        with self._lock:
            self._redeemed = {seen: until for seen, until in self._redeemed.items() if until > now}
            if nonce in self._redeemed:
                raise refused
            self._redeemed[nonce] = expiry

    def _sign(self, body: str) -> str:
        digest = hmac.new(self._key, body.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class WorkerLogin:
    """One worker's sign-in, what an audit log records of it."""

    worker_id: str
    wecom_userid: str
    at: datetime
    method: str = "wecom"


@dataclass(frozen=True)
class WorkerSession:
    """A successful WeCom login: the worker's token for the console, and the login itself."""

    token: str
    expires_at: datetime
    worker: Worker
    login: WorkerLogin


def log_login(login: WorkerLogin) -> None:
    """The default listener: the login goes to intake's log."""
    logger.info("worker signed in", extra={"worker_id": login.worker_id, "method": login.method})


@dataclass(frozen=True)
class WecomApp:
    """Where WeCom's pages are and who we are to them."""

    corp_id: str
    agent_id: str
    authorize_url: str
    qr_login_url: str
    redirect_base: str

    def callback(self, request_base: str) -> str:
        """The redirect_uri: the configured public base, or (development) the request's own."""
        return (self.redirect_base or request_base).rstrip("/") + CALLBACK_PATH

    def authorize_link(self, redirect_uri: str, state: str, *, in_app: bool) -> str:
        """Inside the WeCom app: its silent authorize page; elsewhere: the QR-code web login."""
        if in_app:
            query = {"appid": self.corp_id, "redirect_uri": redirect_uri, "response_type": "code"}
            query |= {"scope": "snsapi_base", "state": state, "agentid": self.agent_id}
            return f"{self.authorize_url}?{urlencode(query)}#wechat_redirect"
        query = {"login_type": "CorpApp", "appid": self.corp_id, "agentid": self.agent_id}
        query |= {"redirect_uri": redirect_uri, "state": state}
        return f"{self.qr_login_url}?{urlencode(query)}"


class WecomLogin:
    """The console's WeCom login: starts the round trip, and at its end gives an active worker a session token."""

    def __init__(
        self,
        verifier: WecomVerifier,
        states: LoginStates,
        codec: TokenCodec,
        lookup: WorkerLookup,
        *,
        app: WecomApp,
        ttl: timedelta,
        listeners: Sequence[Callable[[WorkerLogin], None]] = (log_login,),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.verifier = verifier
        self.states = states
        self.app = app
        self._codec = codec
        self._lookup = lookup
        self._ttl = ttl
        # Told of every login after its token is issued (the audit log subscribes here).
        self.listeners = list(listeners)
        self._clock = clock

    @property
    def is_dev(self) -> bool:
        """True with the development verifier: the console asks for a userid instead of going to WeCom."""
        return isinstance(self.verifier, DevWecomVerifier)

    def start(self, redirect_uri: str, *, in_app: bool, dev_userid: str = "") -> tuple[str, str]:
        """Where to send the browser, and the nonce its cookie must carry back. With the development verifier and a
        `dev_userid`, straight back to the callback with `dev:<userid>` as WeCom would send a code."""
        state, nonce = self.states.issue()
        if dev_userid and self.is_dev:
            return f"{redirect_uri}?{urlencode({'code': DEV_PREFIX + dev_userid, 'state': state})}", nonce
        return self.app.authorize_link(redirect_uri, state, in_app=in_app), nonce

    def finish(self, code: str, state: str, cookie_nonce: str | None) -> WorkerSession:
        """The worker's session for the code WeCom sent back; PermissionDenied for a bad state or a WeCom account
        that is no active worker's, Unauthenticated for a refused code."""
        self.states.redeem(state, cookie_nonce)
        if not code or len(code) > MAX_CODE_LENGTH:
            raise InvalidArgument.for_field("code", "企业微信没有返回授权码,请重新登录")
        userid = self.verifier.userid(code)
        worker = self._lookup(userid)
        if worker is None:
            raise PermissionDenied(f"企业微信账号 {userid} 没有登记为在岗工作人员,请联系管理员")
        token, claims = self._codec.issue(
            TokenKind.WORKER,
            worker.worker_id,
            ttl=self._ttl,
            party=worker.party,
            community=worker.community,
            role=worker.role,
            street=worker.street,
        )
        login = WorkerLogin(worker.worker_id, userid, self._clock())
        for listener in self.listeners:
            listener(login)
        return WorkerSession(token, claims.expires_at, worker, login)


def create_wecom_login(
    settings: WecomSettings,
    codec: TokenCodec,
    *,
    state_key: bytes,
    lookup: WorkerLookup,
    host: str,
    client: httpx.Client | None = None,
) -> WecomLogin | None:
    """The login `LINLI_WECOM_VERIFIER` names, None when `off`; RuntimeError, saying what to set, when it cannot be
    used safely (dev off loopback) or lacks its corp, app or callback."""
    verifier: WecomVerifier
    if settings.verifier == "off":
        return None
    if settings.verifier == "dev":
        if not is_loopback(host):
            raise RuntimeError(
                "LINLI_WECOM_VERIFIER=dev lets anyone sign in as any worker: it is only allowed when intake binds a "
                f"loopback address, not {host!r}; use `wecom` with LINLI_WECOM_CORP_ID/_AGENT_ID/_SECRET"
            )
        verifier = DevWecomVerifier()
    else:
        if not (settings.corp_id and settings.agent_id and settings.secret and settings.redirect_base):
            raise RuntimeError(
                "LINLI_WECOM_VERIFIER=wecom needs LINLI_WECOM_CORP_ID, LINLI_WECOM_AGENT_ID, LINLI_WECOM_SECRET and "
                "LINLI_WECOM_REDIRECT_BASE (for development on 127.0.0.1, set LINLI_WECOM_VERIFIER=dev)"
            )
        verifier = WecomApiVerifier(
            client or httpx.Client(timeout=settings.timeout_seconds),
            base_url=settings.api_base_url,
            corp_id=settings.corp_id,
            secret=settings.secret.get_secret_value(),
        )
    app = WecomApp(
        settings.corp_id, settings.agent_id, settings.authorize_url, settings.qr_login_url, settings.redirect_base
    )
    states = LoginStates(state_key, ttl=timedelta(seconds=settings.state_ttl_seconds))
    return WecomLogin(verifier, states, codec, lookup, app=app, ttl=timedelta(hours=settings.token_ttl_hours))
