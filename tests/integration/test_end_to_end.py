"""A resident's complaint over HTTP ends routed: intake → ticket store → Celery on Redis → routing → retrieval."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest

from linli.v1 import intake_pb2, intake_pb2_grpc
from services.intake.server import create_server as create_intake
from services.intake.settings import IntakeSettings
from services.intake.tickets.validation import Submission
from tests.conftest import free_port
from tests.integration.conftest import RunningIntake, settings_env, wait_until
from tests.local_servers import intake_config
from tests.tokens import as_resident, resident_metadata

pytestmark = pytest.mark.integration

TRIAGE_SECONDS = 60.0
STAIRWELL_LIGHT = {
    "text": "3号楼2单元楼道的灯坏了一个多星期了,晚上上下楼黑漆漆的,老人容易摔跤,麻烦物业尽快来修一下",
    "community": "恒康居民区",
    "building": "3号楼",
    "resident_id": "resident-e2e",
}
RESIDENT = as_resident("resident-e2e")
GRPC_RESIDENT = resident_metadata("resident-grpc")


def ticket_when_triaged(intake: RunningIntake, ticket_id: str) -> dict[str, Any]:
    """Polls the HTTP API until the ticket leaves RECEIVED."""
    latest: dict[str, Any] = {}

    def triaged() -> bool:
        nonlocal latest
        latest = intake.http.get(f"/v1/tickets/{ticket_id}", headers=RESIDENT).json()
        return bool(latest["status"] != "received")

    wait_until(triaged, seconds=TRIAGE_SECONDS, what=f"ticket {ticket_id} to be triaged")
    return latest


def test_http_complaint_ends_routed_with_precedents(
    intake: RunningIntake, start_worker: Callable[[], subprocess.Popen[bytes]]
) -> None:
    start_worker()
    reply = intake.http.post("/v1/tickets", json=STAIRWELL_LIGHT, headers=RESIDENT)
    assert reply.status_code == 201, reply.text
    ticket = ticket_when_triaged(intake, reply.json()["id"])
    assert ticket["status"] == "routed", ticket["routing"]
    assert ticket["party"] == "property_manager"
    assert 0.6 <= ticket["confidence"] <= 1.0
    routing = ticket["routing"]
    # The resident reads how many precedents agreed, never their complaints.
    assert routing["similar_resolved_count"] > 0
    assert routing["similar_cases"] == []
    assert routing["suggested_resolution"]
    assert routing["deciding_signal"] in {"case_vote", "catalog", "classifier"}
    assert [e["kind"] for e in ticket["events"]] == ["received", "routed"]


def test_grpc_submit_is_triaged_too(intake: RunningIntake, start_worker: Callable[[], subprocess.Popen[bytes]]) -> None:
    start_worker()
    with grpc.insecure_channel(intake.grpc_target) as channel:
        stub = intake_pb2_grpc.IntakeServiceStub(channel)
        submitted = stub.SubmitTicket(
            intake_pb2.SubmitTicketRequest(
                text="小区门口马路上有人私自搭建铁皮棚子做生意,占了人行道",
                community="西渚社区",
                resident_id="resident-grpc",
                idempotency_key="grpc-1",
            ),
            timeout=10,
            metadata=GRPC_RESIDENT,
        )
        assert submitted.created
        again = stub.SubmitTicket(
            intake_pb2.SubmitTicketRequest(
                text="小区门口马路上有人私自搭建铁皮棚子做生意,占了人行道",
                community="西渚社区",
                resident_id="resident-grpc",
                idempotency_key="grpc-1",
            ),
            timeout=10,
            metadata=GRPC_RESIDENT,
        )
        assert (again.created, again.ticket.id) == (False, submitted.ticket.id)

        def triaged() -> bool:
            ticket = stub.GetTicket(
                intake_pb2.GetTicketRequest(ticket_id=submitted.ticket.id), timeout=10, metadata=GRPC_RESIDENT
            ).ticket
            return bool(ticket.status != intake_pb2.TICKET_STATUS_RECEIVED)

        wait_until(triaged, seconds=TRIAGE_SECONDS, what="the gRPC ticket to be triaged")
        ticket = stub.GetTicket(
            intake_pb2.GetTicketRequest(ticket_id=submitted.ticket.id), timeout=10, metadata=GRPC_RESIDENT
        ).ticket
        assert ticket.status in (intake_pb2.TICKET_STATUS_ROUTED, intake_pb2.TICKET_STATUS_NEEDS_MANUAL)
        assert ticket.routing.suggested_resolution
        assert not ticket.routing.similar_cases  # other residents' complaints are for workers

        with pytest.raises(grpc.RpcError) as raised:
            stub.SubmitTicket(
                intake_pb2.SubmitTicketRequest(text=" ", community="西渚社区"), timeout=10, metadata=GRPC_RESIDENT
            )
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "text" in (raised.value.details() or "")
        with pytest.raises(grpc.RpcError) as raised:
            stub.GetTicket(intake_pb2.GetTicketRequest(ticket_id="missing"), timeout=10, metadata=GRPC_RESIDENT)
        assert raised.value.code() == grpc.StatusCode.NOT_FOUND


def test_routing_down_sends_the_ticket_to_a_person_not_the_void(
    intake_settings: IntakeSettings, tmp_path: Path
) -> None:
    dead = intake_settings.model_copy(update={"routing_target": f"127.0.0.1:{free_port()}", "rpc_timeout_seconds": 1.0})
    server = create_intake(intake_config(dead))
    assert server.grpc.wait_ready(30)
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "worker"], env=settings_env(dead), stdout=log, stderr=log
    )
    try:
        view, created = server.flows.submit(
            Submission(text="楼上漏水把我家天花板泡坏了", community="阳光花园", resident_id="r-down")
        )
        assert created
        ticket = view.ticket

        def in_manual_queue() -> bool:
            return server.flows.get(ticket.id).ticket.status == "needs_manual"

        wait_until(in_manual_queue, seconds=TRIAGE_SECONDS, what="the ticket to reach the manual queue")
        assert server.flows.get(ticket.id).ticket.events[-1].kind == "needs_manual"
    finally:
        worker.terminate()
        worker.wait(timeout=20)
        server.grpc.stop(0)
        server.database.dispose()
    # The worker's own line says what became of the ticket; Celery's received/succeeded lines are not written at INFO.
    written = (tmp_path / "worker.log").read_text(encoding="utf-8")
    assert ticket.id in written
    assert " received" not in written
    assert "succeeded in" not in written
