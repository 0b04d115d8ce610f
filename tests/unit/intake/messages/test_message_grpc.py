"""ListTicketMessages and PostTicketMessage over gRPC, on intake's server as `linli serve intake` builds it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from linli.v1 import intake_pb2, intake_pb2_grpc
from services.intake.ratelimit import RateLimiter
from services.intake.server import IntakeServer
from services.intake.triage.flows import TriageFlows
from tests.tokens import resident_metadata, worker_metadata
from tests.unit.intake.fakes import decision
from tests.unit.intake.servers import sqlite_intake

PM = worker_metadata("w-7", "property_manager", "恒康居民区")
OWNERS = worker_metadata("w-5", "owners_committee", "恒康居民区")
RESIDENT = resident_metadata("r-1")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[IntakeServer]:
    with sqlite_intake(tmp_path, limiter=RateLimiter.unlimited()) as running:
        yield running


@pytest.fixture
def stub(server: IntakeServer) -> Iterator[intake_pb2_grpc.IntakeServiceStub]:
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc.port}") as channel:
        yield intake_pb2_grpc.IntakeServiceStub(channel)


def test_a_question_its_answer_and_a_note_over_grpc(
    server: IntakeServer, stub: intake_pb2_grpc.IntakeServiceStub
) -> None:
    submitted = stub.SubmitTicket(
        intake_pb2.SubmitTicketRequest(text="楼道灯坏了好几天", community="恒康居民区"), timeout=5, metadata=RESIDENT
    )
    ticket_id = submitted.ticket.id
    TriageFlows(server.context).record_triage(ticket_id, decision("property_manager"))
    post = stub.PostTicketMessage
    asked = post(
        intake_pb2.PostTicketMessageRequest(ticket_id=ticket_id, text="哪个单元?", asks_resident=True),
        timeout=5,
        metadata=PM,
    )
    assert asked.message.author == intake_pb2.MESSAGE_AUTHOR_WORKER
    assert asked.ticket.status == intake_pb2.TICKET_STATUS_WAITING_RESIDENT
    assert asked.ticket.HasField("waiting_since")
    post(
        intake_pb2.PostTicketMessageRequest(ticket_id=ticket_id, text="内部:查线路", internal=True),
        timeout=5,
        metadata=PM,
    )
    answered = post(
        intake_pb2.PostTicketMessageRequest(ticket_id=ticket_id, text="3 单元"), timeout=5, metadata=RESIDENT
    )
    assert answered.ticket.status == intake_pb2.TICKET_STATUS_ROUTED
    assert not answered.ticket.HasField("waiting_since")
    listing = intake_pb2.ListTicketMessagesRequest(ticket_id=ticket_id)
    seen = stub.ListTicketMessages(listing, timeout=5, metadata=RESIDENT).messages
    assert [m.text for m in seen] == ["哪个单元?", "3 单元"]
    assert len(stub.ListTicketMessages(listing, timeout=5, metadata=PM).messages) == 3
    with pytest.raises(grpc.RpcError) as hidden:
        stub.ListTicketMessages(listing, timeout=5, metadata=OWNERS)
    assert hidden.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as refused:
        post(
            intake_pb2.PostTicketMessageRequest(ticket_id=ticket_id, text="备注", internal=True),
            timeout=5,
            metadata=RESIDENT,
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
