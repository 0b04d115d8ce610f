"""Rate limits: counted in Redis (shared by replicas), 429 / RESOURCE_EXHAUSTED over the limit, recovery after the
window, failing open when Redis is down, and who the client is behind proxies."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
import pytest
import redis
from fastapi.testclient import TestClient
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from linli.errors import RateLimited
from linli.v1 import intake_pb2, intake_pb2_grpc
from services.intake import metrics as intake_metrics
from services.intake.database import Database
from services.intake.http_app import create_http_app
from services.intake.ratelimit import Limit, RateLimiter, Scope
from services.intake.ratelimit.counters import MemoryWindowCounter, RedisWindowCounter
from services.intake.ratelimit.grpc_peers import peer_address
from services.intake.ratelimit.http import ClientAddresses
from services.intake.ratelimit.limiter import REFUSALS
from tests.tokens import as_resident, resident_metadata
from tests.unit.intake.fakes import Intake, face_services, http_security
from tests.unit.intake.servers import sqlite_intake

WINDOW = 60
COMPLAINT = {"text": "楼道灯坏了", "community": "恒康居民区"}

# Provides the `sqlite_ticket_database` fixture.
pytest_plugins = ["tests.unit.intake.database"]


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0  # the start of a window

    def __call__(self) -> float:
        return self.now


def rejected(limiter: RateLimiter, scope: Scope, key: str) -> RateLimited | None:
    try:
        limiter.check(scope, key)
    except RateLimited as error:
        return error
    return None


def test_the_limit_is_shared_by_replicas_and_recovers_after_the_window(redis_url: str) -> None:
    clock = Clock()
    limits = {Scope.RESIDENT_SUBMIT: Limit(3, WINDOW)}
    replica_a = RateLimiter(limits, RedisWindowCounter(redis.Redis.from_url(redis_url)), clock=clock)
    replica_b = RateLimiter(limits, RedisWindowCounter(redis.Redis.from_url(redis_url)), clock=clock)
    before = intake_metrics.RATE_LIMITED.labels("resident_submit")._value.get()
    assert rejected(replica_a, Scope.RESIDENT_SUBMIT, "r-1") is None
    assert rejected(replica_b, Scope.RESIDENT_SUBMIT, "r-1") is None
    assert rejected(replica_a, Scope.RESIDENT_SUBMIT, "r-1") is None
    error = rejected(replica_b, Scope.RESIDENT_SUBMIT, "r-1")  # the 4th, on the other replica
    assert error is not None
    assert (error.grpc_code, error.http_status, error.slug) == (grpc.StatusCode.RESOURCE_EXHAUSTED, 429, "rate_limited")
    assert 60 <= error.retry_after_seconds <= 2 * WINDOW
    assert rejected(replica_a, Scope.RESIDENT_SUBMIT, "r-2") is None  # another resident is not affected
    assert intake_metrics.RATE_LIMITED.labels("resident_submit")._value.get() == before + 1
    clock.now += WINDOW / 2  # half a window on, the last window still weighs half: 4 * 0.5 + 1 > 3
    assert rejected(replica_a, Scope.RESIDENT_SUBMIT, "r-1") is not None
    clock.now += 2 * WINDOW  # two windows on, nothing of the burst is left
    assert rejected(replica_a, Scope.RESIDENT_SUBMIT, "r-1") is None
    keys = [str(key) for key in redis.Redis.from_url(redis_url).keys("linli:rate:*")]
    assert keys
    assert not any("r-1" in key for key in keys)


def test_zero_turns_a_limit_off() -> None:
    limiter = RateLimiter({Scope.IP: Limit(0)}, MemoryWindowCounter())
    assert all(rejected(limiter, Scope.IP, "1.2.3.4") is None for _ in range(100))


def test_a_redis_outage_lets_requests_through_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    dead = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2, socket_timeout=0.2)
    limiter = RateLimiter({Scope.RESIDENT_SUBMIT: Limit(1)}, RedisWindowCounter(dead))
    with caplog.at_level(logging.WARNING):
        assert all(rejected(limiter, Scope.RESIDENT_SUBMIT, "r-1") is None for _ in range(5))
    assert "letting requests through" in caplog.text


def test_the_settings_count_in_the_brokers_redis(redis_url: str) -> None:
    from services.intake.settings import RateLimitSettings

    limiter = RateLimiter.from_settings(RateLimitSettings(resident_submits_per_minute=1), broker_url=redis_url)
    assert rejected(limiter, Scope.RESIDENT_SUBMIT, "r-1") is None
    assert rejected(limiter, Scope.RESIDENT_SUBMIT, "r-1") is not None
    assert redis.Redis.from_url(redis_url).keys("linli:rate:*")


def test_forwarded_for_is_believed_only_from_trusted_proxies() -> None:
    addresses = ClientAddresses(["10.0.0.0/8"])
    assert addresses.client_ip("203.0.113.9", "1.1.1.1") == "203.0.113.9"  # not a proxy of ours: header ignored
    assert addresses.client_ip("10.0.0.2", "198.51.100.7") == "198.51.100.7"
    # A client's own forged entry sits left of what our proxies appended: the first untrusted from the right wins.
    assert addresses.client_ip("10.0.0.2", "6.6.6.6, 198.51.100.7, 10.0.0.3") == "198.51.100.7"
    assert addresses.client_ip("10.0.0.2", "garbage") == "10.0.0.2"
    assert addresses.client_ip("10.0.0.2", None) == "10.0.0.2"
    assert ClientAddresses().client_ip("10.0.0.2", "198.51.100.7") == "10.0.0.2"


@pytest.fixture
def database(sqlite_ticket_database: Database) -> Database:
    return sqlite_ticket_database


def http_client(database: Database, limits: dict[Scope, Limit], clock: Clock) -> TestClient:
    ready = threading.Event()
    ready.set()
    limiter = RateLimiter(limits, MemoryWindowCounter(), clock=clock)
    flows = Intake(database).flows
    return TestClient(
        create_http_app(flows, http_security(limiter), database, ready, faces=face_services(flows, database))
    )


def test_http_answers_429_with_retry_after_and_recovers(database: Database) -> None:
    clock = Clock()
    client = http_client(database, {Scope.RESIDENT_SUBMIT: Limit(2), Scope.RESIDENT_WRITE: Limit(1)}, clock)
    resident = as_resident("r-1")
    assert [client.post("/v1/tickets", json=COMPLAINT, headers=resident).status_code for _ in range(3)] == [
        201,
        201,
        429,
    ]
    refused = client.post("/v1/tickets", json=COMPLAINT, headers=resident)
    assert refused.json()["error"]["code"] == "rate_limited"
    assert refused.json()["error"]["message"] == "提交太频繁,请稍后再试"
    assert int(refused.headers["Retry-After"]) >= 1
    assert client.post("/v1/tickets", json=COMPLAINT, headers=as_resident("r-2")).status_code == 201
    clock.now += 2 * WINDOW
    assert client.post("/v1/tickets", json=COMPLAINT, headers=resident).status_code == 201


def test_every_http_request_counts_per_address_but_probes_do_not(database: Database) -> None:
    clock = Clock()
    client = http_client(database, {Scope.IP: Limit(3)}, clock)
    resident = as_resident("r-1")
    codes = [client.get("/v1/tickets", headers=resident).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert client.get("/h5/").status_code == 429  # pages count too
    assert client.get("/healthz").status_code == 200  # probes never
    clock.now += 2 * WINDOW
    assert client.get("/v1/tickets", headers=resident).status_code == 200


@contextmanager
def grpc_intake(tmp_path: Path, limiter: RateLimiter) -> Iterator[str]:
    """An intake gRPC server on SQLite with `limiter`; yields its target."""
    with sqlite_intake(tmp_path, limiter=limiter) as server:
        yield f"127.0.0.1:{server.grpc.port}"
        server.database.dispose()


def test_grpc_answers_resource_exhausted(tmp_path: Path) -> None:
    limiter = RateLimiter({Scope.RESIDENT_SUBMIT: Limit(1)}, MemoryWindowCounter())
    with grpc_intake(tmp_path, limiter) as target, grpc.insecure_channel(target) as channel:
        stub = intake_pb2_grpc.IntakeServiceStub(channel)
        request = intake_pb2.SubmitTicketRequest(text=COMPLAINT["text"], community=COMPLAINT["community"])
        stub.SubmitTicket(request, timeout=5, metadata=resident_metadata("r-1"))
        with pytest.raises(grpc.RpcError) as raised:
            stub.SubmitTicket(request, timeout=5, metadata=resident_metadata("r-1"))
        assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert raised.value.details() == "提交太频繁,请稍后再试"
        status = rpc_status.from_call(raised.value)  # type: ignore[arg-type]
        assert status is not None
        retry = error_details_pb2.RetryInfo()
        assert any(detail.Unpack(retry) for detail in status.details)
        assert retry.retry_delay.seconds >= 1


@pytest.mark.parametrize(
    ("peer", "address"),
    [("ipv4:10.0.0.7:51234", "10.0.0.7"), ("ipv6:[::1]:51234", "::1"), ("unix:/tmp/s", "unix:/tmp/s"), ("", "unknown")],
)
def test_a_grpc_peer_is_counted_by_its_address_not_its_port(peer: str, address: str) -> None:
    assert peer_address(peer) == address


def test_grpc_calls_count_per_address_but_health_checks_do_not(tmp_path: Path) -> None:
    clock = Clock()
    limiter = RateLimiter({Scope.IP: Limit(3)}, MemoryWindowCounter(), clock=clock)
    with grpc_intake(tmp_path, limiter) as target:
        # Each call on a new channel comes from a new port: the limit must still see one client.
        codes = []
        for _ in range(4):
            with grpc.insecure_channel(target) as channel:
                stub = intake_pb2_grpc.IntakeServiceStub(channel)
                try:
                    stub.ListTickets(intake_pb2.ListTicketsRequest(), timeout=5, metadata=resident_metadata("r-1"))
                    codes.append(grpc.StatusCode.OK)
                except grpc.RpcError as error:
                    codes.append(error.code())
        assert codes == [grpc.StatusCode.OK] * 3 + [grpc.StatusCode.RESOURCE_EXHAUSTED]
        with grpc.insecure_channel(target) as channel:
            health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert health.status == health_pb2.HealthCheckResponse.SERVING  # probes are never limited
            clock.now += 2 * WINDOW
            stub = intake_pb2_grpc.IntakeServiceStub(channel)
            stub.ListTickets(intake_pb2.ListTicketsRequest(), timeout=5, metadata=resident_metadata("r-1"))


def test_every_scope_refuses_in_chinese() -> None:
    """Residents and workers read the refusal as it comes (the H5 page shows the server's message)."""
    assert set(REFUSALS) == set(Scope)
    assert all("太频繁" in refusal for refusal in REFUSALS.values())
