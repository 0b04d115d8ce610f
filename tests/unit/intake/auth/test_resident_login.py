"""Residents' login: WeChat's jscode2session against a local fake (never the internet), the dev verifier, the
rules for choosing a verifier, and POST /v1/auth/wechat."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from linli.errors import Unauthenticated, Unavailable
from linli.settings import AuthSettings
from linli.tokens import TokenCodec, TokenKind
from services.intake.auth.residents import DevVerifier, WeChatVerifier, create_verifier
from services.intake.database import Database
from services.intake.http_app import create_http_app
from services.intake.ratelimit import Limit, RateLimiter, Scope
from services.intake.ratelimit.counters import MemoryWindowCounter
from tests.unit.intake.fakes import Intake, face_services, http_security

APPID, APP_SECRET = "wx-test-app", "s" * 32


class FakeWeChat(BaseHTTPRequestHandler):
    """Answers /sns/jscode2session as the test says: `reply` (a dict, or a status code), after `delay` seconds."""

    reply: ClassVar[dict[str, Any] | int] = {}
    delay: ClassVar[float] = 0.0
    seen: ClassVar[list[dict[str, list[str]]]] = []

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        type(self).seen.append({"path": [parts.path], **parse_qs(parts.query)})
        time.sleep(self.delay)
        if isinstance(self.reply, int):
            self.send_response(self.reply)
            self.end_headers()
            return
        body = json.dumps(self.reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")  # as WeChat sends its JSON
        self.end_headers()
        try:
            self.wfile.write(body)
        except BrokenPipeError:  # the client gave up waiting: what the timeout test wants
            return

    def log_message(self, *_: object) -> None:
        """Quiet."""


@pytest.fixture
def wechat() -> Iterator[tuple[type[FakeWeChat], str]]:
    handler = type("Handler", (FakeWeChat,), {"reply": {}, "delay": 0.0, "seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield handler, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def verifier(base_url: str, timeout: float = 2.0) -> WeChatVerifier:
    return WeChatVerifier(httpx.Client(timeout=timeout), base_url=base_url, appid=APPID, app_secret=APP_SECRET)


def test_a_good_code_gives_the_openid(wechat: tuple[type[FakeWeChat], str]) -> None:
    handler, url = wechat
    handler.reply = {"openid": "oAbC_123-xyz", "session_key": "k", "unionid": "u"}
    assert verifier(url).openid("code-1") == "oAbC_123-xyz"
    asked = handler.seen[0]
    assert asked["path"] == ["/sns/jscode2session"]
    assert (asked["appid"], asked["js_code"], asked["grant_type"]) == ([APPID], ["code-1"], ["authorization_code"])


@pytest.mark.parametrize(
    ("reply", "error", "words"),
    [
        ({"errcode": 40029, "errmsg": "invalid code"}, Unauthenticated, "invalid code"),
        ({"errcode": 40163, "errmsg": "code been used"}, Unauthenticated, "already used"),
        ({"errcode": 45011, "errmsg": "api minute-quota reach limit"}, Unavailable, "busy"),
        ({"errcode": -1, "errmsg": "system error"}, Unavailable, "busy"),
        ({"errcode": 40013, "errmsg": "invalid appid"}, Unavailable, "40013"),
        ({"session_key": "k"}, Unavailable, "openid"),
        (502, Unavailable, "HTTP 502"),
    ],
)
def test_wechat_errors_become_401_or_503(
    wechat: tuple[type[FakeWeChat], str], reply: dict[str, Any] | int, error: type[Exception], words: str
) -> None:
    handler, url = wechat
    handler.reply = reply
    with pytest.raises(error, match=words):
        verifier(url).openid("code-1")


def test_a_slow_or_absent_wechat_is_503(wechat: tuple[type[FakeWeChat], str]) -> None:
    handler, url = wechat
    handler.reply, handler.delay = {"openid": "late"}, 1.0
    with pytest.raises(Unavailable, match="in time"):
        verifier(url, timeout=0.2).openid("code-1")
    with pytest.raises(Unavailable, match="reached"):
        verifier("http://127.0.0.1:1").openid("code-1")


def test_dev_codes() -> None:
    assert DevVerifier().openid("dev:h5-abc_1") == "h5-abc_1"
    for code in ("h5-abc", "dev:", "dev:has space", "dev:" + "x" * 65, "wx:abc"):
        with pytest.raises(Unauthenticated):
            DevVerifier().openid(code)


def test_the_verifier_is_chosen_safely(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINLI_AUTH_RESIDENT_VERIFIER", "dev")
    assert isinstance(create_verifier(AuthSettings(), host="127.0.0.1"), DevVerifier)
    assert isinstance(create_verifier(AuthSettings(), host="::1"), DevVerifier)
    with pytest.raises(RuntimeError, match="loopback"):
        create_verifier(AuthSettings(), host="0.0.0.0")  # noqa: S104 - the refused case
    monkeypatch.setenv("LINLI_AUTH_RESIDENT_VERIFIER", "wechat")
    with pytest.raises(RuntimeError, match="LINLI_AUTH_WECHAT_APPID"):
        create_verifier(AuthSettings(), host="0.0.0.0")  # noqa: S104
    monkeypatch.setenv("LINLI_AUTH_WECHAT_APPID", APPID)
    monkeypatch.setenv("LINLI_AUTH_WECHAT_APP_SECRET", APP_SECRET)
    assert isinstance(create_verifier(AuthSettings(), host="0.0.0.0"), WeChatVerifier)  # noqa: S104


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    database = Database(f"sqlite:///{tmp_path / 'tickets.sqlite'}")
    database.upgrade_schema()
    ready = threading.Event()
    ready.set()
    limiter = RateLimiter({Scope.IP_LOGIN: Limit(3)}, MemoryWindowCounter())
    flows = Intake(database).flows
    yield TestClient(
        create_http_app(flows, http_security(limiter), database, ready, faces=face_services(flows, database))
    )
    database.dispose()


def test_the_login_exchange_gives_a_resident_token_that_submits(client: TestClient) -> None:
    reply = client.post("/v1/auth/wechat", json={"code": "dev:openid-42"})
    assert reply.status_code == 200, reply.text
    session = reply.json()
    assert set(session) == {"token", "expires_at", "resident_id"}
    assert session["resident_id"] == "openid-42"
    claims = TokenCodec.from_settings(AuthSettings()).verify(session["token"])
    assert (claims.kind, claims.subject) == (TokenKind.RESIDENT, "openid-42")
    headers = {"Authorization": f"Bearer {session['token']}"}
    created = client.post("/v1/tickets", json={"text": "楼道灯坏了", "community": "恒康居民区"}, headers=headers)
    assert (created.status_code, created.json()["resident_id"]) == (201, "openid-42")


def test_bad_codes_are_401_and_logins_are_limited_per_address(client: TestClient) -> None:
    refused = client.post("/v1/auth/wechat", json={"code": "guess"})
    assert (refused.status_code, refused.json()["error"]["code"]) == (401, "unauthenticated")
    assert client.post("/v1/auth/wechat", json={"code": ""}).status_code == 422
    assert client.post("/v1/auth/wechat", json={"code": "dev:a"}).status_code == 200  # the 3rd of 3 allowed
    limited = client.post("/v1/auth/wechat", json={"code": "dev:a"})
    assert limited.json()["error"]["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) >= 1
