"""Issue #16, item 4, over the running stack: a name resolved in one community reaches no resident of another.

Intake, Celery on Redis, routing and retrieval with the real model: a worker of 恒康居民区 resolves a complaint naming
张伟 with "已联系李建华,明天上门维修", the case-sync task teaches retrieval, and a resident of 梅林小区 asks and submits
nearly the same thing.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from google.protobuf import json_format

from linli.clients.retrieval import RetrievalClient
from linli.v1 import intake_pb2, intake_pb2_grpc
from services.intake.tickets.learning import case_id
from tests.integration.conftest import RunningIntake, wait_until
from tests.tokens import as_resident, as_worker, resident_metadata, service_credentials

pytestmark = pytest.mark.integration

NAMES = ("李建华", "张伟")
COMPLAINT_A = "张伟说3号楼楼道的灯坏了一个多星期了,晚上上下楼黑漆漆的,老人容易摔跤"
RESOLUTION_A = "已联系李建华,明天上门维修"
QUESTION_B = "5号楼楼道的灯坏了一个多星期了,晚上上下楼黑漆漆的,这归谁管?"
TICKET_B = "5号楼楼道的灯坏了一个多星期了,晚上上下楼黑漆漆的,老人容易摔跤"
WORKER_A = as_worker("w-7", "property_manager", "恒康居民区")
DISPATCHER_A = as_worker("d-1", "street_office", "恒康居民区", "dispatcher")
NEIGHBOUR = as_resident("r-b")
SECONDS = 90.0


def triaged(intake: RunningIntake, ticket_id: str, headers: dict[str, str]) -> dict[str, Any]:
    latest: dict[str, Any] = {}

    def left_received() -> bool:
        nonlocal latest
        latest = intake.http.get(f"/v1/tickets/{ticket_id}", headers=headers).json()
        return bool(latest["status"] != "received")

    wait_until(left_received, seconds=SECONDS, what=f"ticket {ticket_id} to be triaged")
    return latest


def resolve_in_community_a(intake: RunningIntake) -> str:
    reply = intake.http.post(
        "/v1/tickets", json={"text": COMPLAINT_A, "community": "恒康居民区"}, headers=as_resident("r-a")
    )
    ticket_id = str(reply.json()["id"])
    if triaged(intake, ticket_id, as_resident("r-a"))["status"] == "needs_manual":
        intake.http.post(
            f"/v1/tickets/{ticket_id}/dispatch", json={"to_party": "property_manager"}, headers=DISPATCHER_A
        )
    intake.http.post(f"/v1/tickets/{ticket_id}/accept", headers=WORKER_A).raise_for_status()
    intake.http.post(
        f"/v1/tickets/{ticket_id}/resolve", json={"resolution": RESOLUTION_A}, headers=WORKER_A
    ).raise_for_status()
    return ticket_id


def test_a_neighbour_reads_no_name_from_another_community(
    intake: RunningIntake, start_worker: Callable[[], subprocess.Popen[bytes]]
) -> None:
    start_worker()
    resolved_id = resolve_in_community_a(intake)
    with grpc.insecure_channel(intake.settings.retrieval_target) as channel:
        retrieval = RetrievalClient(channel, timeout_seconds=10, credentials=service_credentials())

        def learned() -> bool:
            return case_id(resolved_id) in {hit.case.id for hit in retrieval.similar_resolved(k=5, text=TICKET_B)}

        wait_until(learned, seconds=SECONDS, what="the resolved case to reach the index as a close precedent")

    asked = intake.http.post("/v1/answers", json={"text": QUESTION_B, "community": "梅林小区"}, headers=NEIGHBOUR)
    submitted = intake.http.post("/v1/tickets", json={"text": TICKET_B, "community": "梅林小区"}, headers=NEIGHBOUR)
    ticket = triaged(intake, str(submitted.json()["id"]), NEIGHBOUR)
    with grpc.insecure_channel(intake.grpc_target) as channel:
        over_grpc = (
            intake_pb2_grpc.IntakeServiceStub(channel)
            .GetTicket(
                intake_pb2.GetTicketRequest(ticket_id=ticket["id"]), timeout=10, metadata=resident_metadata("r-b")
            )
            .ticket
        )

    assert asked.status_code == 200, asked.text
    assert asked.json()["answer"] is None or asked.json()["answer"]["precedent"] is None
    assert ticket["routing"]["similar_cases"] == []
    assert ticket["routing"]["similar_resolved_count"] > 0
    assert not over_grpc.routing.similar_cases
    for readable in (asked.text, submitted.text, str(ticket), json_format.MessageToJson(over_grpc, ensure_ascii=False)):
        for name in NAMES:
            assert name not in readable
