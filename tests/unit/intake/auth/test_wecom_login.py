"""Workers' WeCom (企业微信) login through the HTTP app: start -> WeCom -> callback -> a console session that works on
/v1/workers/me; states that are forged, from another browser, expired or replayed; WeCom accounts that are no active
worker's; the development verifier's guard; and the real exchange against a fake WeCom (httpx.MockTransport)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from linli.errors import PermissionDenied, Unauthenticated, Unavailable
from services.intake.auth.settings import WecomSettings
from services.intake.auth.wecom import LoginStates, WecomApiVerifier, WecomLogin, WorkerLogin, create_wecom_login
from services.intake.auth.wecom_http import STATE_COOKIE
from services.intake.organisation.flows import NewWorker, OrganisationFlows
from tests.tokens import bearer, environment_codec
from tests.unit.intake.auth.test_sms_login import PUBLIC_HOST
from tests.unit.intake.organisation.harness import OrgApp, migrated, org_app

CORP, AGENT, SECRET = "ww-test-corp", "1000002", "s" * 43
STATE_KEY = b"k" * 32
WRONG_SECRET = "w" * 43
JSON = {"Accept": "application/json"}


def add_workers(organisation: OrganisationFlows) -> None:
    organisation.add_street("s1", "一号街道")
    organisation.add_community("梅林小区", "s1")
    organisation.add_worker(NewWorker("w-1", "property_manager", community="梅林小区", wecom_userid="zhangsan"))
    organisation.add_worker(NewWorker("w-2", "street_office", street="s1", role="dispatcher", wecom_userid="lisi"))
    organisation.add_worker(NewWorker("w-3", "property_manager", wecom_userid="left-us"))
    organisation.deactivate_worker("w-3", actor="admin:test")


def app_with(tmp_path: Path, settings: WecomSettings, client: httpx.Client | None = None) -> Iterator[OrgApp]:
    database = migrated(tmp_path)
    lookup = OrganisationFlows(database)
    wecom = create_wecom_login(
        settings,
        environment_codec(),
        state_key=STATE_KEY,
        lookup=lookup.signed_in_worker,
        host="127.0.0.1",
        client=client,
    )
    with org_app(database, wecom) as built:
        add_workers(built.organisation)
        yield built


@pytest.fixture
def dev(tmp_path: Path) -> Iterator[OrgApp]:
    yield from app_with(tmp_path, WecomSettings(verifier="dev", corp_id=CORP, agent_id=AGENT))


def wecom_of(org: OrgApp) -> WecomLogin:
    wecom = org.client.app.state.security.wecom  # type: ignore[attr-defined]
    assert isinstance(wecom, WecomLogin)
    return wecom


def started(client: TestClient, **params: str) -> str:
    """Starts a login; the URL the browser is sent to."""
    reply = client.get("/v1/auth/wecom/start", params=params, follow_redirects=False)
    assert reply.status_code == 302, reply.text
    assert STATE_COOKIE in reply.cookies
    return reply.headers["location"]


def test_a_dev_login_from_start_to_the_console(dev: OrgApp) -> None:
    logins: list[WorkerLogin] = []
    wecom_of(dev).listeners.append(logins.append)
    callback = started(dev.client, dev_userid="zhangsan")
    assert callback.startswith("http://testserver/v1/auth/wecom/callback?code=dev%3Azhangsan&state=")
    landed = dev.client.get(callback, follow_redirects=False)
    assert landed.status_code == 303, landed.text
    location = landed.headers["location"]
    assert location.startswith("/console/#wecom_token=")
    token = location.removeprefix("/console/#wecom_token=")
    me = dev.client.get("/v1/workers/me", headers=bearer(token))
    assert me.status_code == 200, me.text
    assert (me.json()["worker_id"], me.json()["community"], me.json()["role"]) == ("w-1", "梅林小区", "worker")
    claims = environment_codec().verify(token)
    assert claims.expires_at - claims.issued_at == timedelta(hours=12)
    assert [(login.worker_id, login.wecom_userid, login.method) for login in logins] == [("w-1", "zhangsan", "wecom")]
    assert logins[0].at.tzinfo is not None


def test_a_street_dispatcher_signs_in_as_the_street(dev: OrgApp) -> None:
    reply = dev.client.get(started(dev.client, dev_userid="lisi"), headers=JSON)
    assert reply.status_code == 200, reply.text
    session = reply.json()
    assert session["worker_id"] == "w-2"
    me = dev.client.get("/v1/workers/me", headers=bearer(session["token"])).json()
    assert (me["street"], me["communities"], me["role"]) == ("s1", ["梅林小区"], "dispatcher")


def test_start_sends_the_browser_to_wecom_with_a_signed_state(dev: OrgApp) -> None:
    qr = urlsplit(started(dev.client))
    assert f"{qr.scheme}://{qr.netloc}{qr.path}" == "https://login.work.weixin.qq.com/wwlogin/sso/login"
    query = parse_qs(qr.query)
    assert query["login_type"] == ["CorpApp"]
    assert (query["appid"], query["agentid"]) == ([CORP], [AGENT])
    assert query["redirect_uri"] == ["http://testserver/v1/auth/wecom/callback"]
    assert query["state"][0].count(".") == 2
    in_app = urlsplit(started(dev.client, in_app="true"))
    assert f"{in_app.netloc}{in_app.path}" == "open.weixin.qq.com/connect/oauth2/authorize"
    assert in_app.fragment == "wechat_redirect"
    assert parse_qs(in_app.query)["scope"] == ["snsapi_base"]
    assert parse_qs(in_app.query)["response_type"] == ["code"]


def test_forged_foreign_and_replayed_states_are_refused(dev: OrgApp) -> None:
    callback = started(dev.client, dev_userid="zhangsan")
    state = parse_qs(urlsplit(callback).query)["state"][0]
    nonce, expiry, signature = state.split(".")
    forged = f"{nonce}.{int(expiry) + 3600}.{signature}"
    reply = dev.client.get("/v1/auth/wecom/callback", params={"code": "dev:zhangsan", "state": forged}, headers=JSON)
    assert reply.status_code == 403
    assert "重新点击" in reply.json()["error"]["message"]
    # The right state from a browser that did not start the login (no cookie): a login CSRF.
    with TestClient(dev.client.app) as stranger:
        assert stranger.get(callback, headers=JSON).status_code == 403
    assert dev.client.get(callback, headers=JSON).status_code == 200
    # The same state again, even with its cookie put back: redeemed once only.
    assert dev.client.get(callback, headers=JSON).status_code == 403
    dev.client.cookies.set(STATE_COOKIE, nonce, path="/v1/auth/wecom")
    replayed = dev.client.get(callback, follow_redirects=False)
    assert replayed.status_code == 403
    assert "企业微信登录失败" in replayed.text  # a browser reads a page, not JSON
    assert dev.client.get("/v1/auth/wecom/callback", headers=JSON).status_code == 403  # no state at all


def test_an_expired_state_is_refused() -> None:
    now = [1_800_000_000.0]
    states = LoginStates(STATE_KEY, ttl=timedelta(minutes=10), clock=lambda: now[0])
    state, nonce = states.issue()
    now[0] += 601
    with pytest.raises(PermissionDenied):
        states.redeem(state, nonce)
    fresh, fresh_nonce = states.issue()
    with pytest.raises(PermissionDenied):  # signed with another key
        LoginStates(b"x" * 32, ttl=timedelta(minutes=10), clock=lambda: now[0]).redeem(fresh, fresh_nonce)
    states.redeem(fresh, fresh_nonce)


def test_unknown_and_deactivated_wecom_accounts_are_refused(dev: OrgApp) -> None:
    for userid in ("nobody", "left-us"):
        reply = dev.client.get(started(dev.client, dev_userid=userid), headers=JSON)
        assert reply.status_code == 403, userid
        assert "没有登记为在岗工作人员" in reply.json()["error"]["message"]
    state = parse_qs(urlsplit(started(dev.client)).query)["state"][0]
    refused = dev.client.get("/v1/auth/wecom/callback", params={"code": "not-dev", "state": state}, headers=JSON)
    assert refused.status_code == 401


def test_the_dev_verifier_is_refused_off_loopback_and_wecom_needs_its_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    codec, lookup = environment_codec(), OrganisationFlows(migrated(tmp_path)).signed_in_worker
    with pytest.raises(RuntimeError, match="loopback"):
        create_wecom_login(WecomSettings(verifier="dev"), codec, state_key=STATE_KEY, lookup=lookup, host=PUBLIC_HOST)
    assert create_wecom_login(WecomSettings(), codec, state_key=STATE_KEY, lookup=lookup, host=PUBLIC_HOST) is None
    settings = WecomSettings(verifier="wecom", corp_id=CORP, agent_id=AGENT, redirect_base="https://linli.example")
    with pytest.raises(RuntimeError, match="LINLI_WECOM_SECRET"):
        create_wecom_login(settings, codec, state_key=STATE_KEY, lookup=lookup, host=PUBLIC_HOST)
    monkeypatch.setenv("LINLI_WECOM_SECRET", SECRET)
    settings = WecomSettings(verifier="wecom", corp_id=CORP, agent_id=AGENT, redirect_base="https://linli.example")
    real = create_wecom_login(settings, codec, state_key=STATE_KEY, lookup=lookup, host=PUBLIC_HOST)
    assert real is not None
    assert not real.is_dev
    assert real.app.callback("http://10.0.0.5:8080/") == "https://linli.example/v1/auth/wecom/callback"


def test_without_wecom_login_the_endpoints_say_so_and_the_console_offers_none(tmp_path: Path) -> None:
    with org_app(migrated(tmp_path)) as off:
        reply = off.client.get("/v1/auth/wecom/start", follow_redirects=False)
        assert reply.status_code == 404
        assert "未开通企业微信登录" in reply.json()["error"]["message"]
        assert "企业微信登录" not in off.client.get("/console/").text


def test_the_console_offers_wecom_login(dev: OrgApp) -> None:
    page = dev.client.get("/console/").text
    assert 'id="wecom-dev-form"' in page
    assert '<script src="/static/console_login.js"></script>' in page
    assert dev.client.get("/static/console_login.js").status_code == 200


class FakeWecom:
    """WeCom's gettoken and getuserinfo, answering from a script of codes."""

    def __init__(self, users: dict[str, dict[str, object]]) -> None:
        self.users = users
        self.requests: list[httpx.Request] = []
        self.tokens_issued = 0
        self.stale_tokens: set[str] = set()

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        query = {key: values[0] for key, values in parse_qs(request.url.query.decode()).items()}
        if request.url.path == "/cgi-bin/gettoken":
            if (query.get("corpid"), query.get("corpsecret")) != (CORP, SECRET):
                return self.reply({"errcode": 40001, "errmsg": "invalid credential"})
            self.tokens_issued += 1
            return self.reply(
                {"errcode": 0, "errmsg": "ok", "access_token": f"AT{self.tokens_issued}", "expires_in": 7200}
            )
        assert request.url.path == "/cgi-bin/auth/getuserinfo"
        if query["access_token"] in self.stale_tokens:
            return self.reply({"errcode": 42001, "errmsg": "access_token expired"})
        return self.reply(self.users.get(query["code"], {"errcode": 40029, "errmsg": "invalid code"}))

    @staticmethod
    def reply(document: dict[str, object]) -> httpx.Response:
        return httpx.Response(200, text=json.dumps(document), headers={"Content-Type": "text/plain"})

    def paths(self) -> list[str]:
        return [request.url.path for request in self.requests]


@pytest.fixture
def fake_wecom() -> FakeWecom:
    return FakeWecom(
        {
            "CODE-ZS": {"errcode": 0, "errmsg": "ok", "userid": "zhangsan", "user_ticket": "t"},
            "CODE-OUTSIDER": {"errcode": 0, "errmsg": "ok", "openid": "oOutsider", "external_userid": "e"},
        }
    )


def verifier(fake: FakeWecom, *, secret: str = SECRET, clock: list[float] | None = None) -> WecomApiVerifier:
    now = clock if clock is not None else [0.0]
    client = httpx.Client(transport=httpx.MockTransport(fake.handler))
    return WecomApiVerifier(client, base_url="https://qyapi.test", corp_id=CORP, secret=secret, clock=lambda: now[0])


def test_the_real_verifier_caches_the_access_token_until_it_expires(fake_wecom: FakeWecom) -> None:
    now = [0.0]
    wecom = verifier(fake_wecom, clock=now)
    assert wecom.userid("CODE-ZS") == "zhangsan"
    assert wecom.userid("CODE-ZS") == "zhangsan"
    assert fake_wecom.paths() == ["/cgi-bin/gettoken", "/cgi-bin/auth/getuserinfo", "/cgi-bin/auth/getuserinfo"]
    assert parse_qs(fake_wecom.requests[1].url.query.decode()) == {"access_token": ["AT1"], "code": ["CODE-ZS"]}
    now[0] = 7200 - 300  # within the safety margin of its expiry: a new one
    wecom.userid("CODE-ZS")
    assert fake_wecom.tokens_issued == 2
    fake_wecom.stale_tokens.add("AT2")  # WeCom retired it early: fetched again, asked once more
    assert wecom.userid("CODE-ZS") == "zhangsan"
    assert fake_wecom.tokens_issued == 3


def test_the_real_verifier_refuses_bad_codes_outsiders_and_a_bad_secret(fake_wecom: FakeWecom) -> None:
    with pytest.raises(Unauthenticated, match="invalid code"):  # errcode 40029
        verifier(fake_wecom).userid("CODE-FORGED")
    with pytest.raises(PermissionDenied, match="不是本单位成员"):
        verifier(fake_wecom).userid("CODE-OUTSIDER")
    with pytest.raises(Unavailable, match="40001"):
        verifier(fake_wecom, secret=WRONG_SECRET).userid("CODE-ZS")


def test_a_real_login_through_the_http_app(
    tmp_path: Path, fake_wecom: FakeWecom, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LINLI_WECOM_SECRET", SECRET)
    settings = WecomSettings(
        verifier="wecom",
        corp_id=CORP,
        agent_id=AGENT,
        redirect_base="https://linli.example",
        api_base_url="https://qyapi.test",
    )
    client = httpx.Client(transport=httpx.MockTransport(fake_wecom.handler))
    for org in app_with(tmp_path, settings, client):
        # Behind https, as the callback is: the state cookie is Secure and never travels over plain http.
        browser = TestClient(org.client.app, base_url="https://testserver")
        authorize = urlsplit(started(browser))
        query = parse_qs(authorize.query)
        assert query["redirect_uri"] == ["https://linli.example/v1/auth/wecom/callback"]
        state = query["state"][0]
        callback = "/v1/auth/wecom/callback"
        refused = browser.get(callback, params={"code": "CODE-FORGED", "state": state}, headers=JSON)
        assert refused.status_code == 401
        assert "企业微信授权已失效" in refused.json()["error"]["message"]
        state = parse_qs(urlsplit(started(browser)).query)["state"][0]
        over_http = org.client.get(callback, params={"code": "CODE-ZS", "state": state}, headers=JSON)
        assert over_http.status_code == 403  # the Secure cookie stayed behind
        session = browser.get(callback, params={"code": "CODE-ZS", "state": state}, headers=JSON)
        assert session.status_code == 200, session.text
        assert browser.get("/v1/workers/me", headers=bearer(session.json()["token"])).json()["worker_id"] == "w-1"
        assert fake_wecom.paths().count("/cgi-bin/gettoken") == 1
