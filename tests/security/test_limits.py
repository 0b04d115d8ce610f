"""Probes #2 (X-Forwarded-For from anyone moves the client's address) and #7 (retries counted as new submits)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import grpc
import httpx
import pytest
import redis

from linli.v1 import intake_pb2, intake_pb2_grpc
from services.intake.settings import RateLimitSettings
from tests.conftest import BROWSER_REDIS_SLOT, free_port, redis_db
from tests.integration.conftest import grpc_channel
from tests.security.conftest import COMMUNITY, RunningStack, start_intake, stop
from tests.tokens import as_resident, resident_metadata

pytestmark = [pytest.mark.integration, pytest.mark.security]
LIMITS = RateLimitSettings()


def test_logins_with_made_up_forwarded_addresses_share_the_callers_limit(stack: RunningStack) -> None:
    codes = [
        stack.http.post(
            "/v1/auth/wechat", json={"code": f"dev:xff-{n}"}, headers={"X-Forwarded-For": f"203.0.113.{n}"}
        ).status_code
        for n in range(LIMITS.ip_logins_per_minute + 2)
    ]
    assert codes[: LIMITS.ip_logins_per_minute] == [200] * LIMITS.ip_logins_per_minute
    assert codes[LIMITS.ip_logins_per_minute :] == [429, 429]


def test_retries_with_the_same_idempotency_key_are_not_new_submits(
    stack: RunningStack, fresh_id: Callable[[str], str]
) -> None:
    resident = as_resident(fresh_id("r"))
    fresh = LIMITS.resident_submits_per_minute // 2
    first = [
        stack.http.post(
            "/v1/tickets",
            json={"text": f"{n}号楼楼道的灯坏了", "community": COMMUNITY},
            headers={**resident, "Idempotency-Key": f"k-{n}"},
        )
        for n in range(fresh)
    ]
    assert [reply.status_code for reply in first] == [201] * fresh
    retries = [
        stack.http.post(
            "/v1/tickets",
            json={"text": f"{n % fresh}号楼楼道的灯坏了", "community": COMMUNITY},
            headers={**resident, "Idempotency-Key": f"k-{n % fresh}"},
        )
        for n in range(LIMITS.resident_submits_per_minute + 2)
    ]
    assert [reply.status_code for reply in retries] == [200] * len(retries)
    assert {reply.json()["id"] for reply in retries} == {reply.json()["id"] for reply in first}
    # New tickets are still counted: the limit's remaining ones, then 429.
    new = [
        stack.http.post("/v1/tickets", json={"text": f"{n}号楼电梯坏了", "community": COMMUNITY}, headers=resident)
        for n in range(LIMITS.resident_submits_per_minute - fresh + 1)
    ]
    assert [reply.status_code for reply in new][-2:] == [201, 429]


def test_grpc_retries_with_the_same_idempotency_key_are_not_new_submits(
    stack: RunningStack, fresh_id: Callable[[str], str]
) -> None:
    stub = intake_pb2_grpc.IntakeServiceStub(stack.channel)
    metadata = resident_metadata(fresh_id("r"))
    request = intake_pb2.SubmitTicketRequest(text="楼道的灯坏了好几天", community=COMMUNITY, idempotency_key="grpc-k")
    answers = [stub.SubmitTicket(request, metadata=metadata) for _ in range(LIMITS.resident_submits_per_minute + 2)]
    assert [answer.created for answer in answers] == [True] + [False] * (len(answers) - 1)
    assert len({answer.ticket.id for answer in answers}) == 1
    for n in range(LIMITS.resident_submits_per_minute - 1):
        stub.SubmitTicket(
            intake_pb2.SubmitTicketRequest(text=f"{n}号楼电梯坏了", community=COMMUNITY), metadata=metadata
        )
    with pytest.raises(grpc.RpcError) as limited:
        stub.SubmitTicket(intake_pb2.SubmitTicketRequest(text="路灯又坏了", community=COMMUNITY), metadata=metadata)
    assert limited.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED


def test_a_trusted_proxy_names_the_client_on_http_and_grpc(
    stack: RunningStack, redis_base_url: str, tmp_path: Path
) -> None:
    broker = f"{redis_base_url}/{redis_db(BROWSER_REDIS_SLOT)}"  # own counters: the others came from 127.0.0.1
    redis.Redis.from_url(broker).flushdb()
    settings = stack.settings.model_copy(
        update={"http_port": free_port(), "grpc_port": free_port(), "broker_url": broker}
    )
    limits = {"LINLI_RATE_TRUSTED_PROXIES": '["127.0.0.1/32"]', "LINLI_RATE_IP_REQUESTS_PER_MINUTE": "5"}
    process = start_intake(settings, tmp_path / "proxied-intake.log", **limits)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{settings.http_port}", timeout=10) as client:
            logins = [
                client.post(
                    "/v1/auth/wechat", json={"code": f"dev:p-{n}"}, headers={"X-Forwarded-For": f"198.51.100.{n}"}
                )
                for n in range(LIMITS.ip_logins_per_minute + 2)
            ]
        assert [reply.status_code for reply in logins] == [200] * len(logins)
        with grpc_channel(f"127.0.0.1:{settings.grpc_port}") as channel:
            stub = intake_pb2_grpc.IntakeServiceStub(channel)
            metadata = resident_metadata("r-proxied")

            def list_from(address: str) -> grpc.StatusCode:
                try:
                    stub.ListTickets(
                        intake_pb2.ListTicketsRequest(), metadata=[*metadata, ("x-forwarded-for", address)]
                    )
                except grpc.RpcError as error:
                    return error.code()
                return grpc.StatusCode.OK

            assert {list_from(f"198.51.100.{n}") for n in range(8)} == {grpc.StatusCode.OK}
            assert [list_from("198.51.100.200") for _ in range(6)][-1] is grpc.StatusCode.RESOURCE_EXHAUSTED
    finally:
        stop(process)
