"""The per-worker limit on callback numbers read in full (GET /v1/tickets/{id}/contact), over the real HTTP app with
a real audit log: under it the number, over it 429 with Retry-After and the refusal audited (never the number); the
same ticket again within the hour counts once; another worker is unaffected; counted in Redis, failing open."""

from __future__ import annotations

import dataclasses
import json
import logging

import pytest
import redis
from fastapi.testclient import TestClient

from linli.errors import RateLimited
from services.intake.audit.flows import AuditLog, Pseudonyms
from services.intake.database import Database
from services.intake.ratelimit import Limit, RateLimiter, Scope
from services.intake.ratelimit.counters import MemoryWindowCounter, RedisWindowCounter, WindowCounter
from services.intake.settings import RateLimitSettings
from tests.tokens import as_resident, as_worker
from tests.unit.intake.dashboards.timeline import StillClock
from tests.unit.intake.fakes import Intake, audited_http_app, decision

pytest_plugins = ["tests.unit.intake.database"]

HOUR = 3600
HENGKANG = "恒康居民区"
MOBILE = "13812345678"
PM = as_worker("w-7", "property_manager", HENGKANG)
COLLEAGUE = as_worker("w-8", "property_manager", HENGKANG)
ADMIN = as_worker("a-1", "street_office", role="admin")


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0  # the start of an hour

    def __call__(self) -> float:
        return self.now


@dataclasses.dataclass
class App:
    client: TestClient
    intake: Intake
    clock: Clock


def make_app(database: Database, reveals_per_hour: int, counter: WindowCounter | None = None) -> App:
    """The real HTTP app and audit log; the limiter allows `reveals_per_hour` reads per worker, by a clock we move."""
    intake = Intake(database, clock=StillClock())
    audit = AuditLog(database, Pseudonyms(lambda: b"p" * 32), clock=intake.clock)
    clock = Clock()
    limiter = RateLimiter(
        {Scope.WORKER_CONTACT: Limit(reveals_per_hour, HOUR)}, counter or MemoryWindowCounter(), clock=clock
    )
    return App(TestClient(audited_http_app(intake, audit, limiter=limiter)), intake, clock)


def tickets(app: App, count: int) -> list[str]:
    """`count` complaints of different residents, each with a callback number, routed to the property manager."""
    ids = []
    for number in range(count):
        body = {"text": "楼道灯坏了好几天了", "community": HENGKANG, "contact_phone": MOBILE}
        reply = app.client.post("/v1/tickets", json=body, headers=as_resident(f"openid-{number}"))
        assert reply.status_code == 201, reply.text
        ticket_id = str(reply.json()["id"])
        app.intake.triage.record_triage(ticket_id, decision("property_manager"))
        ids.append(ticket_id)
    return ids


def read(app: App, ticket_id: str, worker: dict[str, str] = PM) -> int:
    reply = app.client.get(f"/v1/tickets/{ticket_id}/contact", headers=worker)
    if reply.status_code == 200:
        assert reply.json()["contact_phone"] == MOBILE
    return reply.status_code


def audited(app: App, action: str) -> list[dict[str, object]]:
    reply = app.client.get("/v1/audit", params={"action": action}, headers=ADMIN)
    assert reply.status_code == 200, reply.text
    return list(reply.json()["events"])


@pytest.fixture
def app(ticket_database: Database) -> App:
    return make_app(ticket_database, reveals_per_hour=3)


def test_over_the_limit_a_worker_gets_429_in_chinese_no_number_and_an_audited_refusal(app: App) -> None:
    first, second, third, fourth = tickets(app, 4)
    assert [read(app, ticket_id) for ticket_id in (first, second, third)] == [200, 200, 200]
    reply = app.client.get(f"/v1/tickets/{fourth}/contact", headers=PM)
    assert reply.status_code == 429, reply.text
    assert 1 <= int(reply.headers["Retry-After"]) <= 2 * HOUR
    assert reply.json()["error"]["code"] == "rate_limited"
    assert reply.json()["error"]["message"] == "查看联系电话太频繁,请稍后再试"
    assert MOBILE not in reply.text
    assert len(audited(app, "personal_data_read")) == 3  # the refused read is no read
    (refusal,) = audited(app, "personal_data_refused")
    assert refusal["actor"] == "worker:w-7"
    assert str(refusal["subject"]).startswith("resident:rp:")
    assert refusal["detail"] == {"fields": ["contact_phone"], "reason": "rate_limited", "ticket_id": fourth}
    assert MOBILE not in json.dumps(refusal, ensure_ascii=False)


def test_the_same_ticket_again_within_the_hour_counts_once(app: App) -> None:
    first, second, third, fourth = tickets(app, 4)
    assert [read(app, first) for _ in range(5)] == [200] * 5  # calling one resident back is ordinary work
    assert [read(app, second), read(app, third), read(app, fourth)] == [200, 200, 429]
    assert read(app, first) == 200  # already admitted: still no new count, even at the wall
    assert read(app, fourth) == 429  # refused, so not admitted: it still counts
    app.clock.now += 2 * HOUR
    assert read(app, fourth) == 200  # the hour is over


def test_another_worker_is_not_held_by_a_colleagues_limit(app: App) -> None:
    ticket_ids = tickets(app, 4)
    assert [read(app, ticket_id) for ticket_id in ticket_ids] == [200, 200, 200, 429]
    assert read(app, ticket_ids[3], COLLEAGUE) == 200
    assert {event["actor"] for event in audited(app, "personal_data_refused")} == {"worker:w-7"}


def test_tickets_without_a_number_and_residents_reading_their_own_are_not_counted(app: App) -> None:
    ticket_ids = tickets(app, 3)
    body = {"text": "楼道灯坏了好几天了", "community": HENGKANG}
    reply = app.client.post("/v1/tickets", json=body, headers=as_resident("openid-quiet"))
    quiet = str(reply.json()["id"])
    app.intake.triage.record_triage(quiet, decision("property_manager"))
    for _ in range(5):
        assert app.client.get(f"/v1/tickets/{quiet}/contact", headers=PM).status_code == 200
        own = app.client.get(f"/v1/tickets/{ticket_ids[0]}/contact", headers=as_resident("openid-0"))
        assert own.status_code == 200
    assert [read(app, ticket_id) for ticket_id in ticket_ids] == [200, 200, 200]


def test_counted_in_redis_and_shared_by_replicas(ticket_database: Database, redis_url: str) -> None:
    counter = RedisWindowCounter(redis.Redis.from_url(redis_url))
    replica_a = make_app(ticket_database, reveals_per_hour=2, counter=counter)
    replica_b = make_app(
        ticket_database, reveals_per_hour=2, counter=RedisWindowCounter(redis.Redis.from_url(redis_url))
    )
    first, second, third = tickets(replica_a, 3)
    assert [read(replica_a, first), read(replica_b, first), read(replica_b, second)] == [200, 200, 200]
    assert read(replica_a, third) == 429
    keys = [str(key) for key in redis.Redis.from_url(redis_url).keys("linli:rate:*")]
    assert any("linli:rate:seen:" in key for key in keys)
    assert not any("w-7" in key or first in key for key in keys)  # no worker or ticket id readable in Redis


def test_a_redis_outage_lets_reads_through_and_says_so(
    ticket_database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    dead = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2, socket_timeout=0.2)
    app = make_app(ticket_database, reveals_per_hour=1, counter=RedisWindowCounter(dead))
    ticket_ids = tickets(app, 3)
    with caplog.at_level(logging.WARNING):
        assert [read(app, ticket_id) for ticket_id in ticket_ids] == [200, 200, 200]
    warnings = [record for record in caplog.records if "letting requests through" in record.getMessage()]
    assert warnings
    assert getattr(warnings[0], "scope", None) == "worker_contact"
    assert len(audited(app, "personal_data_read")) == 3  # every read still recorded


def test_the_setting_limits_reads_per_hour_with_30_by_default() -> None:
    assert RateLimitSettings().contact_reveals_per_hour == 30
    limiter = RateLimiter.from_settings(RateLimitSettings(contact_reveals_per_hour=2), broker_url="memory://")
    limiter.check_once(Scope.WORKER_CONTACT, "worker:w-7", "t-1")
    limiter.check_once(Scope.WORKER_CONTACT, "worker:w-7", "t-2")
    limiter.check_once(Scope.WORKER_CONTACT, "worker:w-7", "t-1")
    with pytest.raises(RateLimited, match="查看联系电话太频繁") as raised:
        limiter.check_once(Scope.WORKER_CONTACT, "worker:w-7", "t-3")
    # Two of a 3,600 s window: the wait is at least half an hour whenever in the window the third came.
    assert raised.value.retry_after_seconds >= 1800


def test_the_openapi_document_lists_the_429_of_the_route(app: App) -> None:
    operation = app.client.get("/openapi.json").json()["paths"]["/v1/tickets/{ticket_id}/contact"]["get"]
    assert "callback numbers in the last hour" in operation["responses"]["429"]["description"]
