"""Outbound notifications: signatures, webhooks to a real local HTTP server, filters, and the WeChat adapter."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from celery import Celery
from celery.contrib.testing.worker import start_worker
from celery.signals import celeryd_after_setup
from pydantic import SecretStr, ValidationError

from linli.errors import InvalidArgument
from services.intake.notifications import (
    NOTIFY_QUEUE,
    InvalidSignature,
    MessengerError,
    NotificationSettings,
    OutboundEvent,
    StableTokenProvider,
    WeChatSubscribeMessenger,
    WeChatTemplateKeys,
    create_notifier,
    register_tasks,
    resident_template_data,
    sign,
    verify_signature,
)
from services.intake.notifications.tasks import NOTIFY_TASKS
from services.intake.settings import IntakeSettings
from services.intake.worker.celery_app import CASE_SYNC_TASK, LIFECYCLE_QUEUE, TRIAGE_QUEUE, create_celery_app
from tests.conftest import free_port

SECRET = "test-secret-0123456789abcdef"  # noqa: S105 - a test key, not a credential
TINY_BACKOFF = 0.001
OCCURRED = datetime(2026, 1, 5, 1, 30, tzinfo=UTC)


@dataclass(frozen=True)
class Received:
    """One request as the local server saw it."""

    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


# What the local server answers for a request: status, headers, body.
Reply = tuple[int, dict[str, str], bytes]


class LocalServer:
    """A real HTTP server on 127.0.0.1, port 0, that records requests and answers through `reply`."""

    def __init__(self, reply: Callable[[Received], Reply]) -> None:
        self.requests: list[Received] = []
        self._reply = reply
        self._changed = threading.Condition()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length", "0"))
                request = Received(parts.path, parse_qs(parts.query), dict(self.headers), self.rfile.read(length))
                with server._changed:
                    server.requests.append(request)
                    server._changed.notify_all()
                status, headers, body = server._reply(request)
                self.send_response(status)
                for name, value in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # quiet: pytest shows failures, not traffic
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # A short poll interval so shutdown() returns at once instead of after the default half second.
        self._thread = threading.Thread(target=self._http.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    def __enter__(self) -> LocalServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.shutdown()
        self._http.server_close()

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Received]:
        with self._changed:
            self._changed.wait_for(lambda: len(self.requests) >= count, timeout=timeout)
            return list(self.requests)


class ScriptedStatuses:
    """Answers webhook POSTs with the given statuses in turn, then 200 for ever."""

    def __init__(self, *statuses: int) -> None:
        self._statuses = list(statuses)
        self._lock = threading.Lock()

    def __call__(self, request: Received) -> Reply:
        with self._lock:
            status = self._statuses.pop(0) if self._statuses else 200
        return status, {}, b""


@pytest.fixture(autouse=True)
def hmac_secret(monkeypatch: pytest.MonkeyPatch) -> str:
    """The HMAC secret, from the environment as in production."""
    monkeypatch.setenv("LINLI_NOTIFY_HMAC_SECRET", SECRET)
    return SECRET


def settings_for(*webhooks: object, max_attempts: int = 3, **other: Any) -> NotificationSettings:
    return NotificationSettings(
        webhooks=list(webhooks), max_attempts=max_attempts, backoff_base_seconds=TINY_BACKOFF, **other
    )


def event(kind: str = "resolved", **changes: Any) -> OutboundEvent:
    fields: dict[str, Any] = {
        "kind": kind,
        "ticket_id": "t-42",
        "party": "property_manager",
        "community": "恒康居民区",
        "status": kind,
        "occurred_at": OCCURRED,
        "payload": {"note": "已更换楼道灯泡"},
    }
    return OutboundEvent(**{**fields, **changes})


def gave_up(records: list[logging.LogRecord]) -> list[logging.LogRecord]:
    return [r for r in records if r.levelno == logging.ERROR and "gave up" in r.getMessage()]


# --- signatures -------------------------------------------------------------------------------------------------


def test_signature_round_trip() -> None:
    body = '{"id":"e-1","kind":"resolved"}'
    timestamp = str(int(time.time()))
    verify_signature(SECRET, timestamp, body.encode(), sign(SECRET, timestamp, body), tolerance_seconds=300)
    verify_signature(SecretStr(SECRET), timestamp, body, sign(SECRET.encode(), timestamp, body.encode()))


@pytest.mark.parametrize(
    ("secret", "timestamp_delta", "body", "header"),
    [
        pytest.param(SECRET, 0, b'{"id":"e-1","kind":"reopened"}', None, id="tampered-body"),
        pytest.param(SECRET, 1, b'{"id":"e-1","kind":"resolved"}', None, id="tampered-timestamp"),
        pytest.param("another-secret-0123456789", 0, b'{"id":"e-1","kind":"resolved"}', None, id="wrong-secret"),
        pytest.param(SECRET, 0, b'{"id":"e-1","kind":"resolved"}', "md5=abc", id="other-scheme"),
        pytest.param(SECRET, 0, b'{"id":"e-1","kind":"resolved"}', "sha256=", id="empty-signature"),
    ],
)
def test_tampered_delivery_is_rejected(secret: str, timestamp_delta: int, body: bytes, header: str | None) -> None:
    now = int(time.time())
    signed = sign(SECRET, str(now), b'{"id":"e-1","kind":"resolved"}')
    with pytest.raises(InvalidSignature):
        verify_signature(secret, str(now + timestamp_delta), body, header or signed, now=now)


@pytest.mark.parametrize("age", [301, -301])
def test_stale_or_future_timestamp_is_rejected(age: int) -> None:
    sent_at = 1_767_600_000
    body = b"{}"
    header = sign(SECRET, str(sent_at), body)
    verify_signature(SECRET, str(sent_at), body, header, tolerance_seconds=300, now=sent_at + 299)
    with pytest.raises(InvalidSignature, match="away from now"):
        verify_signature(SECRET, str(sent_at), body, header, tolerance_seconds=300, now=sent_at + age)


def test_malformed_timestamp_is_rejected() -> None:
    with pytest.raises(InvalidSignature, match="Unix seconds"):
        verify_signature(SECRET, "2026-01-05T09:00:00Z", b"{}", sign(SECRET, "0", b"{}"))


# --- events and settings --------------------------------------------------------------------------------------


def test_event_rejects_naive_time_bad_kind_and_unserialisable_payload() -> None:
    with pytest.raises(InvalidArgument, match="occurred_at"):
        event(occurred_at=datetime(2026, 1, 5, 9, 0))
    with pytest.raises(InvalidArgument, match="kind"):
        event(kind="Resolved!")
    with pytest.raises(InvalidArgument, match="payload"):
        event(payload={"at": datetime.now(UTC)})
    shanghai = timezone(timedelta(hours=8))
    assert event(occurred_at=datetime(2026, 1, 5, 9, 30, tzinfo=shanghai)).occurred_at == OCCURRED


def test_settings_refuse_unsigned_webhooks_and_secrets_in_code(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="environment only"):
        NotificationSettings(hmac_secret=SecretStr(SECRET))
    with pytest.raises(ValidationError, match="must be an http"):
        settings_for("ftp://example.org/hook")
    with pytest.raises(ValidationError, match="empty filter"):
        settings_for({"url": "https://example.org/hook", "kinds": []})
    monkeypatch.delenv("LINLI_NOTIFY_HMAC_SECRET")
    with pytest.raises(ValidationError, match="LINLI_NOTIFY_HMAC_SECRET"):
        settings_for("https://example.org/hook")
    monkeypatch.setenv("LINLI_NOTIFY_HMAC_SECRET", "short")
    with pytest.raises(ValidationError, match="at least 16") as raised:
        NotificationSettings()
    assert "short" not in str(raised.value), "a rejected secret must not be echoed"


def test_settings_read_targets_and_filters_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "LINLI_NOTIFY_WEBHOOKS",
        '["https://a.example/hook?token=x", {"url": "https://b.example/hook", "kinds": ["resolved", "reopened"]}]',
    )
    first, second = NotificationSettings().webhooks
    assert first.accepts("routed")
    assert first.redacted_url() == "https://a.example/hook"
    assert second.accepts("reopened")
    assert not second.accepts("routed")


# --- webhook deliveries -----------------------------------------------------------------------------------------


def test_delivery_is_a_signed_post_of_the_event() -> None:
    with LocalServer(ScriptedStatuses()) as server:
        notifier = create_notifier(settings_for(f"{server.url}/hook"))
        notifier.publish(event(resident_openid="oResident123"))
        (request,) = server.wait_for(1)

    headers = {name.lower(): value for name, value in request.headers.items()}
    body = request.json()
    assert request.path == "/hook"
    assert body == {
        "id": headers["x-linli-delivery"],
        "kind": "resolved",
        "ticket_id": "t-42",
        "party": "property_manager",
        "community": "恒康居民区",
        "status": "resolved",
        "occurred_at": "2026-01-05T01:30:00+00:00",
        "payload": {"note": "已更换楼道灯泡"},
    }
    assert headers["x-linli-event"] == "resolved"
    assert headers["content-type"].startswith("application/json")
    assert abs(int(headers["x-linli-timestamp"]) - time.time()) < 60
    verify_signature(SECRET, headers["x-linli-timestamp"], request.body, headers["x-linli-signature"])
    assert b"oResident123" not in request.body, "the openid is for WeChat, never for webhook receivers"


@pytest.mark.parametrize("first_status", [500, 503, 408, 429])
def test_retryable_failure_is_retried_with_the_same_delivery_id(first_status: int) -> None:
    with LocalServer(ScriptedStatuses(first_status)) as server:
        create_notifier(settings_for(f"{server.url}/hook")).publish(event())
        first, second = server.wait_for(2)
        assert len(server.requests) == 2  # inline delivery: publish returned after the last attempt

    assert first.headers["X-Linli-Delivery"] == second.headers["X-Linli-Delivery"]
    assert first.body == second.body
    verify_signature(SECRET, second.headers["X-Linli-Timestamp"], second.body, second.headers["X-Linli-Signature"])


@pytest.mark.parametrize("status", [400, 404, 410])
def test_client_error_is_not_retried(status: int, caplog: pytest.LogCaptureFixture) -> None:
    with LocalServer(ScriptedStatuses(status, status, status)) as server:
        create_notifier(settings_for(f"{server.url}/hook")).publish(event())
        (request,) = server.wait_for(1)

    (error,) = gave_up(caplog.records)
    assert error.__dict__["event_id"] == request.headers["X-Linli-Delivery"]
    assert error.__dict__["attempts"] == 1


def test_gives_up_after_max_attempts_with_an_error_naming_the_event(caplog: pytest.LogCaptureFixture) -> None:
    with LocalServer(ScriptedStatuses(*[500] * 10)) as server:
        create_notifier(settings_for(f"{server.url}/hook", max_attempts=4)).publish(event())
        requests = server.wait_for(4)

    assert len(requests) == 4
    assert {r.headers["X-Linli-Delivery"] for r in requests} == {requests[0].headers["X-Linli-Delivery"]}
    (error,) = gave_up(caplog.records)
    assert error.__dict__["event_id"] == requests[0].headers["X-Linli-Delivery"]
    assert error.__dict__["attempts"] == 4
    assert error.__dict__["target"].endswith("/hook")


def test_event_kind_filters_choose_the_targets() -> None:
    with LocalServer(ScriptedStatuses()) as server:
        notifier = create_notifier(
            settings_for(
                f"{server.url}/everything",
                {"url": f"{server.url}/closures", "kinds": ["resolved", "reopened"]},
                {"url": f"{server.url}/escalations", "kinds": ["escalated"]},
            )
        )
        for kind in ("accepted", "resolved", "reopened"):
            notifier.publish(event(kind))
        requests = server.wait_for(5)

    by_path: dict[str, list[str]] = {}
    for request in requests:
        by_path.setdefault(request.path, []).append(request.json()["kind"])
    assert by_path == {"/everything": ["accepted", "resolved", "reopened"], "/closures": ["resolved", "reopened"]}


def test_publish_never_raises_when_a_target_is_down(caplog: pytest.LogCaptureFixture) -> None:
    down = f"http://127.0.0.1:{free_port()}/hook"
    with LocalServer(ScriptedStatuses()) as server:
        notifier = create_notifier(settings_for(down, f"{server.url}/hook"))
        notifier.publish(event())
        (delivered,) = server.wait_for(1)

    (error,) = gave_up(caplog.records)
    assert error.__dict__["target"] == down
    assert error.__dict__["event_id"] == delivered.headers["X-Linli-Delivery"]
    assert "ConnectError" in error.__dict__["detail"]


def test_publish_never_raises_when_the_broker_is_down(caplog: pytest.LogCaptureFixture) -> None:
    app = Celery("notify-test", broker=f"redis://127.0.0.1:{free_port()}/0", set_as_current=False)
    notifier = create_notifier(settings_for("https://example.org/hook"), celery_app=app)
    started = time.monotonic()
    notifier.publish(event())
    assert time.monotonic() - started < 10
    assert any(r.getMessage() == "could not queue webhook delivery" for r in caplog.records)


# --- Celery -----------------------------------------------------------------------------------------------------


def test_celery_worker_retries_then_delivers_or_gives_up(caplog: pytest.LogCaptureFixture) -> None:
    app = create_celery_app(IntakeSettings(broker_url="memory://"))
    app.conf.broker_transport_options = {"polling_interval": 0.05}  # the in-memory broker polls once a second
    flaky, broken = ScriptedStatuses(500), ScriptedStatuses(*[503] * 10)
    with LocalServer(lambda request: (flaky if request.path == "/flaky" else broken)(request)) as server:
        settings = settings_for(f"{server.url}/flaky", f"{server.url}/broken", max_attempts=3)
        register_tasks(app, settings=settings)
        with start_worker(app, perform_ping_check=False, queues=[NOTIFY_QUEUE], shutdown_timeout=10):
            create_notifier(settings, celery_app=app).publish(event())
            requests = server.wait_for(5)
            deadline = time.monotonic() + 10
            while not gave_up(caplog.records) and time.monotonic() < deadline:
                time.sleep(0.02)

    by_path: dict[str, list[Received]] = {}
    for request in requests:
        by_path.setdefault(request.path, []).append(request)
    assert [len(by_path["/flaky"]), len(by_path["/broken"])] == [2, 3]
    event_id = requests[0].headers["X-Linli-Delivery"]
    assert {r.headers["X-Linli-Delivery"] for r in requests} == {event_id}
    assert {r.body for r in requests} == {requests[0].body}
    (error,) = gave_up(caplog.records)
    assert error.__dict__["event_id"] == event_id
    assert error.__dict__["attempts"] == 3
    assert error.__dict__["target"].endswith("/broken")


def test_deliveries_sent_without_a_queue_still_wait_in_the_notifications_queue() -> None:
    app = create_celery_app(IntakeSettings(broker_url="memory://"))
    register_tasks(app, settings=settings_for())
    routed = {name: app.amqp.router.route({}, name)["queue"].name for name in NOTIFY_TASKS}
    assert routed == {name: NOTIFY_QUEUE for name in NOTIFY_TASKS}
    # Triage's own routes are kept: case syncs still go to the lifecycle queue.
    assert app.amqp.router.route({}, CASE_SYNC_TASK)["queue"].name == LIFECYCLE_QUEUE
    assert all("queue" not in type(app.tasks[name]).__dict__ for name in NOTIFY_TASKS)


def test_worker_consumes_the_notifications_queue_whatever_its_queue_option() -> None:
    app = create_celery_app(IntakeSettings(broker_url="memory://"))
    register_tasks(app, settings=settings_for())
    app.amqp.queues.select([TRIAGE_QUEUE])  # what `--queues=triage` does
    celeryd_after_setup.send(sender="worker@test", instance=SimpleNamespace(app=app), conf=app.conf)
    assert set(app.amqp.queues.consume_from) == {TRIAGE_QUEUE, NOTIFY_QUEUE}


# --- residents and WeChat ---------------------------------------------------------------------------------------


class RecordingMessenger:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict[str, str]]] = []

    def send(self, resident_openid: str, template_id: str, data: Mapping[str, str]) -> None:
        self.sent.append((resident_openid, template_id, dict(data)))


def test_resident_template_data_for_each_kind() -> None:
    keys = WeChatTemplateKeys()
    accepted = resident_template_data(event("accepted", payload={}), keys)
    assert accepted == {
        "phrase1": "已受理",
        "thing2": "物业",
        "thing3": "物业已受理您的诉求",
        "time4": "2026-01-05 09:30",
    }
    transfer = event("transferred", party="owners_committee", payload={"from_party": "property_manager"})
    assert resident_template_data(transfer, keys)["thing2"] == "业委会"
    moved = event("transferred", payload={"to_party": "street_office", "note": "涉及公共设施,转街道"})
    assert resident_template_data(moved, keys)["thing2"] == "街道/社区"
    long_note = resident_template_data(event(payload={"note": "维修" * 20}), keys)["thing3"]
    assert len(long_note) == 20
    assert long_note.endswith("…")
    unassigned = resident_template_data(event("needs_manual", party="", payload={}), keys)
    assert unassigned["phrase1"] == "待派单"
    assert unassigned["thing2"] == "待分派"
    assert all(len(resident_template_data(event(kind), keys)["phrase1"]) <= 5 for kind in ("reopened", "new_kind"))


def test_publish_messages_the_resident_only_for_configured_kinds() -> None:
    messenger = RecordingMessenger()
    settings = settings_for(wechat_template_id="tmpl-1", resident_message_kinds=["accepted", "resolved"])
    notifier = create_notifier(settings, messenger=messenger)
    notifier.publish(event("accepted", resident_openid="oResident123", payload={}))
    notifier.publish(event("routed", resident_openid="oResident123"))
    notifier.publish(event("resolved"))  # no openid: nobody to tell
    assert messenger.sent == [
        ("oResident123", "tmpl-1", resident_template_data(event("accepted", payload={}), settings.wechat_template_keys))
    ]


class FakeWeChat:
    """The two WeChat endpoints the messenger uses; tokens are numbered, and the first send can claim one expired."""

    def __init__(self, send_errcodes: list[int]) -> None:
        self.tokens_issued = 0
        self.send_errcodes = send_errcodes

    def __call__(self, request: Received) -> Reply:
        if request.path == "/cgi-bin/stable_token":
            self.tokens_issued += 1
            answer: dict[str, object] = {"access_token": f"token-{self.tokens_issued}", "expires_in": 7200}
        elif request.path == "/cgi-bin/message/subscribe/send":
            code = self.send_errcodes.pop(0) if self.send_errcodes else 0
            answer = {"errcode": code, "errmsg": "ok" if code == 0 else "failed"}
        else:
            return 404, {}, b""
        return 200, {"Content-Type": "application/json"}, json.dumps(answer).encode()


@pytest.fixture
def http_client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as client:
        yield client


def wechat_messenger(server: LocalServer, client: httpx.Client) -> WeChatSubscribeMessenger:
    tokens = StableTokenProvider(
        client, base_url=server.url, appid="wx-app", app_secret=SecretStr("app-secret-0123456789")
    )
    return WeChatSubscribeMessenger(client, tokens, base_url=server.url, miniprogram_state="trial")


def test_wechat_messenger_sends_subscribe_message(http_client: httpx.Client) -> None:
    data = {"phrase1": "已办结", "thing2": "物业", "thing3": "已更换楼道灯泡", "time4": "2026-01-05 09:30"}
    with LocalServer(FakeWeChat([])) as server:
        messenger = wechat_messenger(server, http_client)
        messenger.send("oResident123", "tmpl-1", data)
        messenger.send("oResident456", "tmpl-1", data)
        token_request, first, second = server.wait_for(3)

    assert token_request.json() == {
        "grant_type": "client_credential",
        "appid": "wx-app",
        "secret": "app-secret-0123456789",
        "force_refresh": False,
    }
    assert first.query == {"access_token": ["token-1"]}
    assert second.query == {"access_token": ["token-1"]}, "the token is cached, not fetched per message"
    assert first.json() == {
        "touser": "oResident123",
        "template_id": "tmpl-1",
        "miniprogram_state": "trial",
        "lang": "zh_CN",
        "data": {key: {"value": value} for key, value in data.items()},
    }


def test_wechat_messenger_refreshes_a_rejected_token_once(http_client: httpx.Client) -> None:
    with LocalServer(FakeWeChat([42001])) as server:
        wechat_messenger(server, http_client).send("oResident123", "tmpl-1", {"phrase1": "已受理"})
        requests = server.wait_for(4)

    assert [r.path.rsplit("/", 1)[-1] for r in requests] == ["stable_token", "send", "stable_token", "send"]
    assert requests[2].json()["force_refresh"] is True
    assert requests[3].query == {"access_token": ["token-2"]}


@pytest.mark.parametrize(("errcode", "retryable"), [(43101, False), (47003, False), (-1, True)])
def test_wechat_errors_say_whether_to_retry(http_client: httpx.Client, errcode: int, retryable: bool) -> None:
    with LocalServer(FakeWeChat([errcode])) as server:
        messenger = wechat_messenger(server, http_client)
        with pytest.raises(MessengerError, match=str(errcode)) as raised:
            messenger.send("oResident123", "tmpl-1", {"phrase1": "已受理"})
    assert raised.value.retryable is retryable
