"""Logins outside the mini-program over HTTP: POST /v1/auth/sms/code and /sms/login, POST /v1/auth/wechat-web with
the official account's exchange (httpx.MockTransport standing in for WeChat), and what the H5 page is told."""

from __future__ import annotations

import dataclasses
import json
import re
import threading
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from linli.errors import Unauthenticated, Unavailable
from linli.tokens import TokenCodec
from services.intake.auth.http import HttpSecurity
from services.intake.auth.phones import PhoneIds
from services.intake.auth.settings import SmsSettings, WeChatOaSettings
from services.intake.auth.sms_login import SmsKeys, SmsLogin
from services.intake.auth.wechat_web import WeChatWebVerifier, create_web_login
from services.intake.database import Database
from services.intake.http_app import create_http_app
from services.intake.ratelimit import RateLimiter
from tests.tokens import environment_codec
from tests.unit.intake.auth.test_sms_login import PUBLIC_HOST, RecordingProvider
from tests.unit.intake.fakes import Intake, face_services, http_security

OA_APPID, OA_SECRET = "wx-oa-test", "o" * 32
PHONE = "13812345678"
PAGE_DATA = re.compile(r'<script id="page-data" type="application/json">(.*?)</script>', re.DOTALL)


def wechat(reply: Mapping[str, object], seen: list[httpx.Request]) -> WeChatWebVerifier:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, text=json.dumps(reply), headers={"Content-Type": "text/plain"})

    client = httpx.Client(transport=httpx.MockTransport(handler))
    return WeChatWebVerifier(client, base_url="https://wechat.test", appid=OA_APPID, app_secret=OA_SECRET)


def test_the_official_account_code_is_exchanged_for_its_openid() -> None:
    seen: list[httpx.Request] = []
    reply = {"access_token": "t", "openid": "oOA_resident-1", "scope": "snsapi_base", "unionid": "u-1"}
    assert wechat(reply, seen).openid("code-1") == "oOA_resident-1"
    asked = seen[0].url
    assert asked.path == "/sns/oauth2/access_token"
    assert parse_qs(asked.query.decode()) == {
        "appid": [OA_APPID],
        "secret": [OA_SECRET],
        "code": ["code-1"],
        "grant_type": ["authorization_code"],
    }


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        ({"errcode": 40029, "errmsg": "invalid code"}, Unauthenticated),
        ({"errcode": 40163, "errmsg": "code been used"}, Unauthenticated),
        ({"errcode": -1, "errmsg": "system error"}, Unavailable),
        ({"errcode": 40125, "errmsg": "invalid appsecret"}, Unavailable),
        ({"openid": "oSnap", "is_snapshotuser": 1}, Unauthenticated),
        ({"access_token": "t"}, Unavailable),
    ],
)
def test_refused_codes_and_wechat_faults(reply: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        wechat(reply, []).openid("code-1")


def test_choosing_the_web_login(monkeypatch: pytest.MonkeyPatch) -> None:
    codec, ttl = TokenCodec([b"k" * 32]), timedelta(hours=1)
    dev = create_web_login(WeChatOaSettings(), codec, resident_verifier="dev", host="127.0.0.1", token_ttl=ttl)
    assert dev is not None
    assert dev.page_config() is None  # no redirect in development: `dev:<openid>` instead
    assert (
        create_web_login(WeChatOaSettings(), codec, resident_verifier="wechat", host=PUBLIC_HOST, token_ttl=ttl) is None
    )
    with pytest.raises(RuntimeError, match="APP_SECRET"):
        create_web_login(
            WeChatOaSettings(appid=OA_APPID), codec, resident_verifier="wechat", host=PUBLIC_HOST, token_ttl=ttl
        )
    monkeypatch.setenv("LINLI_WECHAT_OA_APP_SECRET", OA_SECRET)
    web = create_web_login(
        WeChatOaSettings(appid=OA_APPID), codec, resident_verifier="wechat", host=PUBLIC_HOST, token_ttl=ttl
    )
    assert web is not None
    assert web.page_config() == {
        "appid": OA_APPID,
        "authorize_url": "https://open.weixin.qq.com/connect/oauth2/authorize",
        "scope": "snsapi_base",
    }
    link = urlsplit(web.authorize_link("https://linli.example/h5/", "s1"))
    assert link.fragment == "wechat_redirect"
    assert parse_qs(link.query)["redirect_uri"] == ["https://linli.example/h5/"]


@pytest.fixture
def provider() -> RecordingProvider:
    return RecordingProvider()


def security_with_logins(database: Database, provider: RecordingProvider) -> HttpSecurity:
    base = http_security()
    codec = environment_codec()
    sms = SmsLogin(
        database,
        provider,
        codec,
        SmsKeys(b"c" * 32, PhoneIds(b"p" * 32)),
        SmsSettings(),
        limiter=RateLimiter.unlimited(),
        token_ttl=timedelta(hours=1),
    )
    web = create_web_login(
        WeChatOaSettings(), codec, resident_verifier="dev", host="127.0.0.1", token_ttl=timedelta(hours=1)
    )
    return dataclasses.replace(base, sms=sms, web=web)


def app_client(database: Database, security: HttpSecurity) -> Iterator[TestClient]:
    database.upgrade_schema()
    ready = threading.Event()
    ready.set()
    flows = Intake(database).flows
    yield TestClient(create_http_app(flows, security, database, ready, faces=face_services(flows, database)))
    database.dispose()


@pytest.fixture
def client(tmp_path: Path, provider: RecordingProvider) -> Iterator[TestClient]:
    database = Database(f"sqlite:///{tmp_path / 'tickets.sqlite'}")
    yield from app_client(database, security_with_logins(database, provider))


def test_sms_code_then_login_gives_a_token_that_lists_my_tickets(
    client: TestClient, provider: RecordingProvider
) -> None:
    sent = client.post("/v1/auth/sms/code", json={"phone": PHONE})
    assert sent.status_code == 200, sent.text
    assert sent.json() == {"retry_after_seconds": 60}

    again = client.post("/v1/auth/sms/code", json={"phone": PHONE})
    assert again.status_code == 429
    assert int(again.headers["Retry-After"]) > 0
    assert "稍后" in again.json()["error"]["message"]

    logged_in = client.post("/v1/auth/sms/login", json={"phone": PHONE, "code": provider.last_code()})
    assert logged_in.status_code == 200, logged_in.text
    session = logged_in.json()
    assert session["resident_id"] == PhoneIds(b"p" * 32).resident_id(PHONE)
    mine = client.get("/v1/tickets", headers={"Authorization": f"Bearer {session['token']}"})
    assert mine.status_code == 200, mine.text


def test_sms_errors_residents_read(client: TestClient, provider: RecordingProvider) -> None:
    bad_phone = client.post("/v1/auth/sms/code", json={"phone": "12345"})
    assert bad_phone.status_code == 422
    assert bad_phone.json()["error"]["fields"][0]["field"] == "phone"
    client.post("/v1/auth/sms/code", json={"phone": PHONE})
    wrong = client.post(
        "/v1/auth/sms/login", json={"phone": PHONE, "code": "000000" if provider.last_code() != "000000" else "111111"}
    )
    assert wrong.status_code == 401
    assert wrong.json()["error"]["message"] == "验证码错误,还可以再试 4 次"
    extra = client.post("/v1/auth/sms/login", json={"phone": PHONE, "code": "1", "sms": True})
    assert extra.status_code == 422


def test_wechat_web_login_with_the_dev_verifier(client: TestClient) -> None:
    reply = client.post("/v1/auth/wechat-web", json={"code": "dev:oa-resident"})
    assert reply.status_code == 200, reply.text
    assert reply.json()["resident_id"] == "oa-resident"
    refused = client.post("/v1/auth/wechat-web", json={"code": "not-a-dev-code"})
    assert refused.status_code == 401


def test_without_sms_or_official_account_the_endpoints_say_so(tmp_path: Path) -> None:
    for client in app_client(Database(f"sqlite:///{tmp_path / 'tickets.sqlite'}"), http_security()):
        sms = client.post("/v1/auth/sms/code", json={"phone": PHONE})
        assert sms.status_code == 404
        assert "短信登录" in sms.json()["error"]["message"]
        web = client.post("/v1/auth/wechat-web", json={"code": "x"})
        assert web.status_code == 404


def test_the_h5_page_is_told_how_residents_log_in(client: TestClient) -> None:
    page = client.get("/h5/")
    assert page.status_code == 200
    data = json.loads(PAGE_DATA.search(page.text).group(1))  # type: ignore[union-attr]
    assert data["sms_login"] is True
    assert data["wechat_oa"] is None
    assert 'id="login-card"' in page.text
    assert "发送验证码" in page.text
