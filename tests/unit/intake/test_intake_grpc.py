"""IntakeService over gRPC in process: signed tokens in metadata, status codes, and every new RPC once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from fastapi.testclient import TestClient
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from linli.v1 import intake_pb2, intake_pb2_grpc, routing_pb2
from services.intake.ratelimit import RateLimiter
from services.intake.server import IntakeServer
from services.intake.triage.flows import TriageFlows
from tests.tokens import as_resident, as_worker, resident_metadata, worker_metadata
from tests.unit.intake.fakes import RecordingTaskQueue, decision
from tests.unit.intake.servers import sqlite_intake
from tests.unit.intake.uploads.photos import png

PM = worker_metadata("w-7", "property_manager", "恒康居民区")
SO = worker_metadata("w-2", "street_office")
DISPATCH = worker_metadata("d-1", "street_office", "恒康居民区", "dispatcher")
RESIDENT = resident_metadata("r-1")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[IntakeServer]:
    with sqlite_intake(tmp_path, limiter=RateLimiter.unlimited()) as running:
        yield running


@pytest.fixture
def stub(server: IntakeServer) -> Iterator[intake_pb2_grpc.IntakeServiceStub]:
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc.port}") as channel:
        yield intake_pb2_grpc.IntakeServiceStub(channel)


def routed(server: IntakeServer, stub: intake_pb2_grpc.IntakeServiceStub, text: str = "楼道灯坏了好几天") -> str:
    request = intake_pb2.SubmitTicketRequest(text=text, community="恒康居民区")
    ticket_id = str(stub.SubmitTicket(request, timeout=5, metadata=RESIDENT).ticket.id)
    TriageFlows(server.context).record_triage(ticket_id, decision("property_manager"))
    return ticket_id


def code_of(call: object) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as raised:
        call()  # type: ignore[operator]
    return raised.value.code()


def test_worker_calls_need_a_known_token(server: IntakeServer, stub: intake_pb2_grpc.IntakeServiceStub) -> None:
    ticket_id = routed(server, stub)
    accept = intake_pb2.AcceptTicketRequest(ticket_id=ticket_id)
    assert code_of(lambda: stub.AcceptTicket(accept, timeout=5)) == grpc.StatusCode.UNAUTHENTICATED
    bogus = (("authorization", "Bearer nope"),)
    assert code_of(lambda: stub.AcceptTicket(accept, timeout=5, metadata=bogus)) == grpc.StatusCode.UNAUTHENTICATED
    assert code_of(lambda: stub.AcceptTicket(accept, timeout=5, metadata=SO)) == grpc.StatusCode.NOT_FOUND
    claimed = intake_pb2.AcceptTicketRequest(ticket_id=ticket_id, worker_id="someone-else")
    assert code_of(lambda: stub.AcceptTicket(claimed, timeout=5, metadata=PM)) == grpc.StatusCode.PERMISSION_DENIED
    ticket = stub.AcceptTicket(accept, timeout=5, metadata=PM).ticket
    assert (ticket.status, ticket.assignee_worker_id) == (intake_pb2.TICKET_STATUS_ACCEPTED, "w-7")
    assert ticket.events[-1].party == "property_manager"


def test_every_rpc_of_the_lifecycle(server: IntakeServer, stub: intake_pb2_grpc.IntakeServiceStub) -> None:
    ticket_id = routed(server, stub)
    stub.AcceptTicket(intake_pb2.AcceptTicketRequest(ticket_id=ticket_id), timeout=5, metadata=PM)
    started = stub.StartTicket(intake_pb2.StartTicketRequest(ticket_id=ticket_id), timeout=5, metadata=PM).ticket
    assert started.status == intake_pb2.TICKET_STATUS_IN_PROGRESS
    resolved = stub.ResolveTicket(
        intake_pb2.ResolveTicketRequest(ticket_id=ticket_id, resolution="已更换灯泡"), timeout=5, metadata=PM
    ).ticket
    assert resolved.HasField("resolved_at")
    reopened = stub.ReopenTicket(
        intake_pb2.ReopenTicketRequest(ticket_id=ticket_id, resident_id="r-1", reason="灯又坏了"),
        timeout=5,
        metadata=RESIDENT,
    ).ticket
    assert reopened.status == intake_pb2.TICKET_STATUS_REOPENED
    assert reopened.HasField("sla_due_at")

    duplicate = routed(server, stub, "楼道的灯不亮")
    merged = stub.MergeTicket(
        intake_pb2.MergeTicketRequest(ticket_id=duplicate, primary_ticket_id=ticket_id), timeout=5, metadata=PM
    )
    assert (merged.ticket.primary_status, merged.primary.reporter_count) == (intake_pb2.TICKET_STATUS_REOPENED, 2)
    assert merged.primary.duplicate_notice == "1 位邻居也反映了这个问题"
    primary = stub.GetTicket(intake_pb2.GetTicketRequest(ticket_id=ticket_id), timeout=5, metadata=PM).ticket
    assert list(primary.duplicate_ticket_ids) == [duplicate]
    listed = stub.ListTickets(
        intake_pb2.ListTicketsRequest(primary_ticket_id=ticket_id), timeout=5, metadata=PM
    ).tickets
    assert [t.id for t in listed] == [duplicate]
    separated = stub.UnmergeTicket(
        intake_pb2.UnmergeTicketRequest(ticket_id=duplicate, reason="不是同一盏灯"), timeout=5, metadata=PM
    ).ticket
    assert separated.status == intake_pb2.TICKET_STATUS_ROUTED


def test_a_location_goes_in_and_comes_back(stub: intake_pb2_grpc.IntakeServiceStub) -> None:
    point = intake_pb2.GeoPoint(latitude=31.2304, longitude=121.4737)
    request = intake_pb2.SubmitTicketRequest(text="路灯不亮了", community="恒康居民区", location=point)
    submitted = stub.SubmitTicket(request, timeout=5, metadata=RESIDENT).ticket
    fetched = stub.GetTicket(intake_pb2.GetTicketRequest(ticket_id=submitted.id), timeout=5, metadata=RESIDENT).ticket
    listed = stub.ListTickets(intake_pb2.ListTicketsRequest(), timeout=5, metadata=RESIDENT).tickets
    assert submitted.location == fetched.location == point
    assert [t.location for t in listed] == [point]
    # Presence decides, not the value: (0, 0) was given, so it is kept.
    null_island = intake_pb2.SubmitTicketRequest(
        text="路灯不亮了", community="恒康居民区", location=intake_pb2.GeoPoint()
    )
    kept = stub.SubmitTicket(null_island, timeout=5, metadata=RESIDENT).ticket
    assert kept.HasField("location")
    assert (kept.location.latitude, kept.location.longitude) == (0.0, 0.0)


def test_without_a_location_the_field_stays_unset(stub: intake_pb2_grpc.IntakeServiceStub) -> None:
    request = intake_pb2.SubmitTicketRequest(text="路灯不亮了", community="恒康居民区")
    ticket_id = stub.SubmitTicket(request, timeout=5, metadata=RESIDENT).ticket.id
    fetched = stub.GetTicket(intake_pb2.GetTicketRequest(ticket_id=ticket_id), timeout=5, metadata=RESIDENT).ticket
    assert not fetched.HasField("location")


@pytest.mark.parametrize(
    ("latitude", "longitude", "field"),
    [
        (91.0, 121.47, "location.latitude"),
        (31.23, -180.5, "location.longitude"),
        (float("nan"), 121.47, "location.latitude"),
        (31.23, float("inf"), "location.longitude"),
    ],
)
def test_a_bad_location_is_an_invalid_argument_naming_the_field(
    stub: intake_pb2_grpc.IntakeServiceStub, latitude: float, longitude: float, field: str
) -> None:
    point = intake_pb2.GeoPoint(latitude=latitude, longitude=longitude)
    request = intake_pb2.SubmitTicketRequest(text="路灯不亮了", community="恒康居民区", location=point)
    with pytest.raises(grpc.RpcError) as raised:
        stub.SubmitTicket(request, timeout=5, metadata=RESIDENT)
    assert isinstance(raised.value, grpc.Call)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(raised.value)
    assert status is not None
    bad_request = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad_request)
    assert [violation.field for violation in bad_request.field_violations] == [field]
    assert not stub.ListTickets(intake_pb2.ListTicketsRequest(), timeout=5, metadata=RESIDENT).tickets


def test_dispatch_is_for_dispatchers(server: IntakeServer, stub: intake_pb2_grpc.IntakeServiceStub) -> None:
    request = intake_pb2.SubmitTicketRequest(text="说不清该谁管的事", community="恒康居民区", resident_id="r-1")
    ticket_id = stub.SubmitTicket(request, timeout=5, metadata=RESIDENT).ticket.id
    TriageFlows(server.context).send_to_manual(ticket_id, reason="自动分派暂不可用")
    dispatch = intake_pb2.DispatchTicketRequest(ticket_id=ticket_id, to_party="owners_committee")
    assert code_of(lambda: stub.DispatchTicket(dispatch, timeout=5, metadata=SO)) == grpc.StatusCode.NOT_FOUND
    ticket = stub.DispatchTicket(dispatch, timeout=5, metadata=DISPATCH).ticket
    assert (ticket.status, ticket.party) == (intake_pb2.TICKET_STATUS_ROUTED, "owners_committee")
    assert ticket.urgency  # NORMAL, never unspecified once triaged


def test_split_ticket_makes_an_other_issue_a_ticket_of_its_own(
    server: IntakeServer, stub: intake_pb2_grpc.IntakeServiceStub
) -> None:
    request = intake_pb2.SubmitTicketRequest(
        text="楼道灯坏了好几天了,另外小区门口总有车停在消防通道上", community="恒康居民区"
    )
    ticket_id = stub.SubmitTicket(request, timeout=5, metadata=RESIDENT).ticket.id
    chosen = decision("property_manager", entry_id="stairwell_light_broken")
    fire_lane = routing_pb2.OtherIssue(
        entry=routing_pb2.CatalogMatch(
            entry_id="fire_lane_blocked", name="消防通道被占", score=0.62, party="street_office"
        ),
        excerpt="小区门口总有车停在消防通道上",
    )
    chosen.other_issues.append(fire_lane)
    TriageFlows(server.context).record_triage(ticket_id, chosen)
    read = stub.GetTicket(intake_pb2.GetTicketRequest(ticket_id=ticket_id), timeout=5, metadata=PM).ticket
    assert list(read.routing.other_issues) == [fire_lane]

    split = intake_pb2.SplitTicketRequest(ticket_id=ticket_id, text=fire_lane.excerpt)
    assert code_of(lambda: stub.SplitTicket(split, timeout=5)) == grpc.StatusCode.UNAUTHENTICATED
    assert code_of(lambda: stub.SplitTicket(split, timeout=5, metadata=RESIDENT)) == grpc.StatusCode.PERMISSION_DENIED
    assert code_of(lambda: stub.SplitTicket(split, timeout=5, metadata=SO)) == grpc.StatusCode.NOT_FOUND
    unknown = intake_pb2.SplitTicketRequest(ticket_id="nope", text=fire_lane.excerpt)
    assert code_of(lambda: stub.SplitTicket(unknown, timeout=5, metadata=PM)) == grpc.StatusCode.NOT_FOUND
    empty = intake_pb2.SplitTicketRequest(ticket_id=ticket_id, text=" ")
    assert code_of(lambda: stub.SplitTicket(empty, timeout=5, metadata=PM)) == grpc.StatusCode.INVALID_ARGUMENT

    new = stub.SplitTicket(split, timeout=5, metadata=PM).ticket
    assert (new.status, new.text, new.split_from_ticket_id) == (
        intake_pb2.TICKET_STATUS_RECEIVED,
        fire_lane.excerpt,
        ticket_id,
    )
    # The same resident's ticket; workers see them by pseudonym, never by openid.
    assert read.resident_id.startswith("rp:")
    assert (new.resident_id, [e.kind for e in new.events]) == (read.resident_id, ["split_off"])
    queue = server.context.queue
    assert isinstance(queue, RecordingTaskQueue)
    assert queue.triage[-1] == new.id  # stored, then queued for triage
    assert code_of(lambda: stub.SplitTicket(split, timeout=5, metadata=PM)) == grpc.StatusCode.ALREADY_EXISTS
    origin = stub.GetTicket(intake_pb2.GetTicketRequest(ticket_id=ticket_id), timeout=5, metadata=PM).ticket
    assert (list(origin.split_ticket_ids), origin.events[-1].kind) == ([new.id], "split")
    mine = stub.ListTickets(intake_pb2.ListTicketsRequest(), timeout=5, metadata=RESIDENT).tickets
    assert {t.id for t in mine} == {ticket_id, new.id}

    stub.AcceptTicket(intake_pb2.AcceptTicketRequest(ticket_id=ticket_id), timeout=5, metadata=PM)
    stub.ResolveTicket(
        intake_pb2.ResolveTicketRequest(ticket_id=ticket_id, resolution="已更换楼道灯"), timeout=5, metadata=PM
    )
    late = intake_pb2.SplitTicketRequest(ticket_id=ticket_id, text="门口的垃圾桶满了没人清")
    assert code_of(lambda: stub.SplitTicket(late, timeout=5, metadata=PM)) == grpc.StatusCode.FAILED_PRECONDITION


def test_photos_uploaded_over_http_attach_over_grpc(
    server: IntakeServer, stub: intake_pb2_grpc.IntakeServiceStub
) -> None:
    http = TestClient(server.http)
    mine = http.post("/v1/uploads", files={"file": ("a.png", png(), "image/png")}, headers=as_resident("r-1"))
    theirs = http.post("/v1/uploads", files={"file": ("b.png", png(), "image/png")}, headers=as_resident("r-2"))
    request = intake_pb2.SubmitTicketRequest(text="楼道灯坏了好几天", community="恒康居民区")

    request.attachment_ids.append(theirs.json()["upload_id"])
    assert (
        code_of(lambda: stub.SubmitTicket(request, timeout=5, metadata=RESIDENT)) == grpc.StatusCode.PERMISSION_DENIED
    )
    request.attachment_ids[:] = [mine.json()["upload_id"]]
    ticket_id = stub.SubmitTicket(request, timeout=5, metadata=RESIDENT).ticket.id

    attachments = http.get(f"/v1/tickets/{ticket_id}", headers=as_resident("r-1")).json()["attachments"]
    assert [a["id"] for a in attachments] == [mine.json()["upload_id"]]


def test_a_callback_phone_given_over_grpc_is_masked_for_workers_and_read_in_full_with_a_record(
    server: IntakeServer, stub: intake_pb2_grpc.IntakeServiceStub
) -> None:
    bad = intake_pb2.SubmitTicketRequest(text="楼道灯坏了好几天", community="恒康居民区", contact_phone="12345")
    assert code_of(lambda: stub.SubmitTicket(bad, timeout=5, metadata=RESIDENT)) == grpc.StatusCode.INVALID_ARGUMENT
    request = intake_pb2.SubmitTicketRequest(text="楼道灯坏了好几天", community="恒康居民区")
    request.contact_phone = "13812345678"
    own = stub.SubmitTicket(request, timeout=5, metadata=RESIDENT).ticket
    assert (own.contact_phone, own.has_contact_phone) == ("13812345678", True)
    TriageFlows(server.context).record_triage(own.id, decision("property_manager"))
    seen = stub.GetTicket(intake_pb2.GetTicketRequest(ticket_id=own.id), timeout=5, metadata=PM).ticket
    assert (seen.contact_phone, seen.has_contact_phone) == ("138****5678", True)

    # The composition root wires the audit log in: the full number comes with a personal_data_read record.
    http = TestClient(server.http)
    contact = http.get(f"/v1/tickets/{own.id}/contact", headers=as_worker("w-7", "property_manager", "恒康居民区"))
    assert contact.json()["contact_phone"] == "13812345678"
    admin = as_worker("a-1", "street_office", role="admin")
    (event,) = http.get("/v1/audit", params={"action": "personal_data_read"}, headers=admin).json()["events"]
    assert (event["actor"], event["detail"]["ticket_id"]) == ("worker:w-7", own.id)
