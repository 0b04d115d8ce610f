"""The H5 page's logins in a real browser over a real intake: the phone + code form (with its countdown) in a plain
browser, and inside WeChat's browser the official account's redirect and return (WeChat's authorize page intercepted,
its code exchange answered by a local fake)."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from playwright.sync_api import Browser, Page, Route

from tests.browser.conftest import screenshot
from tests.conftest import free_port
from tests.integration.conftest import RunningIntake, intake_settings_for, running_intake

pytestmark = pytest.mark.integration

PHONE = "13712345678"
DEV_CODE = re.compile(r"login code for 137\*\*\*\*5678: ([0-9]{6})")
WECHAT_UA = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36 "
    "MicroMessenger/8.0.50.2701(0x28003253) NetType/WIFI Language/zh_CN"
)
OA_APPID = "wx-oa-browser"
OA_OPENID = "oOA-browser-resident"


class FakeWeChat(BaseHTTPRequestHandler):
    """Answers /sns/oauth2/access_token with OA_OPENID for the code `oa-code-1`."""

    asked: ClassVar[list[dict[str, list[str]]]] = []

    def do_GET(self) -> None:
        query = parse_qs(urlsplit(self.path).query)
        type(self).asked.append(query)
        good = query.get("code") == ["oa-code-1"] and query.get("appid") == [OA_APPID]
        reply = {"openid": OA_OPENID, "scope": "snsapi_base"} if good else {"errcode": 40029, "errmsg": "invalid code"}
        body = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        """Quiet."""


@pytest.fixture
def fake_wechat() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeWeChat)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def start_intake(tmp_path: Path, redis_url: str) -> Iterator[RunningIntake]:
    unused = free_port()
    settings = intake_settings_for(f"sqlite:///{tmp_path / 'tickets.sqlite'}", redis_url, unused, unused)
    with running_intake(settings) as intake:
        yield intake


@pytest.fixture
def sms_intake(tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningIntake]:
    """Intake with the development SMS provider (the resident verifier is the tests' `dev`)."""
    monkeypatch.setenv("LINLI_SMS_PROVIDER", "dev")
    yield from start_intake(tmp_path, redis_url)


@pytest.fixture
def oa_intake(
    tmp_path: Path, redis_url: str, fake_wechat: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[RunningIntake]:
    """Intake as in production: WeChat verifiers (the official account's asks the fake), SMS as well."""
    monkeypatch.setenv("LINLI_AUTH_RESIDENT_VERIFIER", "wechat")
    monkeypatch.setenv("LINLI_AUTH_WECHAT_APPID", "wx-mini-program")
    monkeypatch.setenv("LINLI_AUTH_WECHAT_APP_SECRET", "m" * 32)
    monkeypatch.setenv("LINLI_WECHAT_OA_APPID", OA_APPID)
    monkeypatch.setenv("LINLI_WECHAT_OA_APP_SECRET", "o" * 32)
    monkeypatch.setenv("LINLI_WECHAT_OA_BASE_URL", fake_wechat)
    monkeypatch.setenv("LINLI_SMS_PROVIDER", "dev")
    yield from start_intake(tmp_path, redis_url)


def phone_page(browser: Browser, intake: RunningIntake, user_agent: str | None = None) -> Page:
    context = browser.new_context(
        viewport={"width": 375, "height": 812},
        locale="zh-CN",
        base_url=f"http://127.0.0.1:{intake.settings.http_port}",
        user_agent=user_agent,
    )
    return context.new_page()


def test_outside_wechat_the_resident_logs_in_with_phone_and_code(
    browser: Browser, sms_intake: RunningIntake, capfd: pytest.CaptureFixture[str]
) -> None:
    page = phone_page(browser, sms_intake)
    page.goto("/h5/mine?login=sms")
    card = page.locator("#login-card")
    card.wait_for(state="visible")
    page.fill("#login-phone", PHONE)
    page.click("#login-send")
    send = page.locator("#login-send")
    page.wait_for_function("document.getElementById('login-send').textContent.includes('秒后重发')")
    assert send.is_disabled()
    code = DEV_CODE.findall(capfd.readouterr().out)[-1]

    page.fill("#login-code", "000000" if code != "000000" else "111111")
    page.click("#login-submit")
    page.locator("#login-error").wait_for(state="visible")
    assert page.locator("#login-error").text_content() == "验证码错误,还可以再试 4 次"
    screenshot(page, "h5-sms-login")

    page.fill("#login-code", code)
    page.click("#login-submit")
    card.wait_for(state="hidden")
    page.locator("#mine-empty").wait_for(state="visible")
    session = json.loads(page.evaluate("localStorage.getItem('linli.session')"))
    assert session["resident_id"].startswith("phone:")
    page.context.close()


def test_inside_wechat_the_page_goes_through_the_official_accounts_authorization(
    browser: Browser, oa_intake: RunningIntake
) -> None:
    page = phone_page(browser, oa_intake, user_agent=WECHAT_UA)
    authorized: list[dict[str, list[str]]] = []

    def wechat_authorize(route: Route) -> None:
        query = parse_qs(urlsplit(route.request.url).query)
        authorized.append(query)
        back = query["redirect_uri"][0]
        separator = "&" if "?" in back else "?"
        location = f"{back}{separator}{urlencode({'code': 'oa-code-1', 'state': query['state'][0]})}"
        route.fulfill(status=302, headers={"Location": location})

    page.route("https://open.weixin.qq.com/**", wechat_authorize)
    page.goto("/h5/mine")
    page.locator("#mine-empty").wait_for(state="visible")

    assert len(authorized) == 1  # one redirect, however many parts of the page wanted a token
    assert authorized[0]["appid"] == [OA_APPID]
    assert authorized[0]["scope"] == ["snsapi_base"]
    assert authorized[0]["response_type"] == ["code"]
    assert authorized[0]["redirect_uri"][0].endswith("/h5/mine")
    assert "code=" not in page.evaluate("location.href")  # the spent code is taken out of the address bar
    assert page.locator("#login-card").is_hidden()
    session = json.loads(page.evaluate("localStorage.getItem('linli.session')"))
    assert session["resident_id"] == OA_OPENID
    assert FakeWeChat.asked[-1]["code"] == ["oa-code-1"]
    page.context.close()


def test_a_plain_browser_in_production_gets_the_sms_form(browser: Browser, oa_intake: RunningIntake) -> None:
    page = phone_page(browser, oa_intake)
    page.goto("/h5/mine")
    page.locator("#login-card").wait_for(state="visible")
    assert page.locator("#login-send").text_content() == "发送验证码"
    page.context.close()


def test_a_code_with_a_state_this_page_did_not_send_is_not_used(browser: Browser, oa_intake: RunningIntake) -> None:
    page = phone_page(browser, oa_intake, user_agent=WECHAT_UA)
    redirected: list[str] = []

    def wechat_authorize(route: Route) -> None:
        redirected.append(route.request.url)
        route.abort()

    page.route("https://open.weixin.qq.com/**", wechat_authorize)
    asked_before = len(FakeWeChat.asked)
    page.goto("/h5/mine?code=oa-code-1&state=forged")
    note = page.locator("#mine-empty")
    note.wait_for(state="visible")
    assert "微信授权没有完成" in (note.text_content() or "")
    assert redirected == []  # no round trip again
    assert len(FakeWeChat.asked) == asked_before  # the code never reached the server's exchange
    assert "code=" not in page.evaluate("location.href")
    page.context.close()


def test_in_development_the_page_still_logs_in_by_itself(browser: Browser, sms_intake: RunningIntake) -> None:
    page = phone_page(browser, sms_intake, user_agent=WECHAT_UA)  # even inside WeChat: `make run` has no account
    page.goto("/h5/mine")
    page.locator("#mine-empty").wait_for(state="visible")
    assert page.locator("#login-card").is_hidden()
    session = json.loads(page.evaluate("localStorage.getItem('linli.session')"))
    assert session["resident_id"] == page.evaluate("localStorage.getItem('linli.resident')")
    assert session["resident_id"].startswith("h5-")
    page.context.close()
