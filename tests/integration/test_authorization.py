"""Authorization over the real servers: residents see and change only their own tickets, workers only their party's
in their community, and the catalog and model operations only admins and services may call (HTTP and gRPC)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest

from linli.grpc_serving import ServerHandle
from linli.v1 import intake_pb2, intake_pb2_grpc, retrieval_pb2, retrieval_pb2_grpc, routing_pb2, routing_pb2_grpc
from services.intake.triage.flows import TriageFlows
from tests.integration.conftest import RunningIntake
from tests.tokens import as_resident, as_worker, resident_metadata, service_metadata, worker_metadata
from tests.unit.intake.fakes import decision

pytestmark = pytest.mark.integration

COMMUNITY = "恒康居民区"
COMPLAINT = {"text": "3号楼楼道的灯坏了好几天了,晚上看不见台阶", "community": COMMUNITY}
OWNER, NEIGHBOUR = as_resident("owner"), as_resident("neighbour")
PM = as_worker("w-pm", "property_manager", COMMUNITY)
PM_ELSEWHERE = as_worker("w-pm-2", "property_manager", "梅林小区")
SO = as_worker("w-so", "street_office")
DISPATCHER = as_worker("d-1", "street_office", COMMUNITY, "dispatcher")


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """Who may see what does not depend on the store: SQLite alone is enough here."""
    return f"sqlite:///{tmp_path / 'tickets.sqlite'}"


def submitted(intake: RunningIntake, **change: str) -> str:
    """A ticket of the resident `owner`."""
    reply = intake.http.post("/v1/tickets", json={**COMPLAINT, **change}, headers=OWNER)
    assert reply.status_code == 201, reply.text
    return str(reply.json()["id"])


def routed(intake: RunningIntake, **change: str) -> str:
    """The owner's ticket, routed to the property manager (as the triage worker would)."""
    ticket_id = submitted(intake, **change)
    TriageFlows(intake.server.context).record_triage(ticket_id, decision("property_manager"))
    return ticket_id


def resolved(intake: RunningIntake) -> str:
    ticket_id = routed(intake)
    assert intake.http.post(f"/v1/tickets/{ticket_id}/accept", headers=PM).status_code == 200
    reply = intake.http.post(f"/v1/tickets/{ticket_id}/resolve", json={"resolution": "已更换灯泡"}, headers=PM)
    assert reply.status_code == 200, reply.text
    return ticket_id


def test_a_resident_cannot_read_list_rate_or_reopen_anothers_ticket_over_http(intake: RunningIntake) -> None:
    ticket_id = resolved(intake)
    missing = intake.http.get("/v1/tickets/no-such-ticket", headers=NEIGHBOUR)
    foreign = intake.http.get(f"/v1/tickets/{ticket_id}", headers=NEIGHBOUR)
    # Exactly as if it did not exist: the id tells the neighbour nothing.
    assert (foreign.status_code, foreign.json()["error"]["code"]) == (404, "not_found")
    assert foreign.json()["error"]["message"] == missing.json()["error"]["message"].replace("no-such-ticket", ticket_id)
    assert intake.http.get("/v1/tickets", headers=NEIGHBOUR).json()["tickets"] == []
    assert intake.http.get("/v1/tickets", params={"resident_id": "owner"}, headers=NEIGHBOUR).status_code == 403
    rate = intake.http.post(f"/v1/tickets/{ticket_id}/rate", json={"score": 1}, headers=NEIGHBOUR)
    reopen = intake.http.post(f"/v1/tickets/{ticket_id}/reopen", json={"reason": "灯又坏了"}, headers=NEIGHBOUR)
    assert (rate.status_code, reopen.status_code) == (404, 404)
    impersonating = {**COMPLAINT, "resident_id": "owner"}
    assert intake.http.post("/v1/tickets", json=impersonating, headers=NEIGHBOUR).status_code == 403
    assert intake.http.get(f"/v1/tickets/{ticket_id}").status_code == 401

    own = intake.http.get(f"/v1/tickets/{ticket_id}", headers=OWNER).json()
    assert own["status"] == "resolved"
    assert [t["id"] for t in intake.http.get("/v1/tickets", headers=OWNER).json()["tickets"]] == [ticket_id]
    rated = intake.http.post(f"/v1/tickets/{ticket_id}/rate", json={"score": 5}, headers=OWNER).json()
    assert rated["status"] == "closed"


def test_a_resident_cannot_read_list_rate_or_reopen_anothers_ticket_over_grpc(intake: RunningIntake) -> None:
    ticket_id = resolved(intake)
    owner, neighbour = resident_metadata("owner"), resident_metadata("neighbour")
    with grpc.insecure_channel(intake.grpc_target) as channel:
        stub = intake_pb2_grpc.IntakeServiceStub(channel)

        def code(call: Callable[[], object]) -> grpc.StatusCode:
            with pytest.raises(grpc.RpcError) as raised:
                call()
            return raised.value.code()

        get = intake_pb2.GetTicketRequest(ticket_id=ticket_id)
        assert code(lambda: stub.GetTicket(get, timeout=10, metadata=neighbour)) == grpc.StatusCode.NOT_FOUND
        assert code(lambda: stub.GetTicket(get, timeout=10)) == grpc.StatusCode.UNAUTHENTICATED
        listed = stub.ListTickets(intake_pb2.ListTicketsRequest(), timeout=10, metadata=neighbour).tickets
        assert list(listed) == []
        rate = intake_pb2.RateTicketRequest(ticket_id=ticket_id, score=1)
        reopen = intake_pb2.ReopenTicketRequest(ticket_id=ticket_id, reason="灯又坏了")
        assert code(lambda: stub.RateTicket(rate, timeout=10, metadata=neighbour)) == grpc.StatusCode.NOT_FOUND
        assert code(lambda: stub.ReopenTicket(reopen, timeout=10, metadata=neighbour)) == grpc.StatusCode.NOT_FOUND
        as_owner = intake_pb2.SubmitTicketRequest(
            text=COMPLAINT["text"], community=COMPLAINT["community"], resident_id="owner"
        )
        denied = grpc.StatusCode.PERMISSION_DENIED
        assert code(lambda: stub.SubmitTicket(as_owner, timeout=10, metadata=neighbour)) == denied
        pm = worker_metadata("w-pm", "property_manager", COMMUNITY)
        assert code(lambda: stub.SubmitTicket(as_owner, timeout=10, metadata=pm)) == denied  # wrong kind of token

        assert stub.GetTicket(get, timeout=10, metadata=owner).ticket.id == ticket_id
        mine = stub.ListTickets(intake_pb2.ListTicketsRequest(), timeout=10, metadata=owner).tickets
        assert [t.id for t in mine] == [ticket_id]
        reopened = stub.ReopenTicket(reopen, timeout=10, metadata=owner).ticket
        assert reopened.status == intake_pb2.TICKET_STATUS_REOPENED


def test_a_worker_sees_and_acts_only_within_their_party_and_community(intake: RunningIntake) -> None:
    ticket_id = routed(intake)
    elsewhere_id = routed(intake, community="梅林小区", text="梅林小区5号楼电梯坏了")
    assert intake.http.get(f"/v1/tickets/{ticket_id}", headers=PM).status_code == 200
    for outsider in (PM_ELSEWHERE, SO):  # the right party elsewhere; every community but another party
        assert intake.http.get(f"/v1/tickets/{ticket_id}", headers=outsider).status_code == 404
        assert intake.http.post(f"/v1/tickets/{ticket_id}/accept", headers=outsider).status_code == 404
    listed = intake.http.get("/v1/tickets", headers=PM).json()["tickets"]
    assert [t["id"] for t in listed] == [ticket_id]  # not the 梅林小区 ticket of the same party
    assert intake.http.get("/v1/tickets", params={"community": "梅林小区"}, headers=PM).status_code == 403
    assert intake.http.get("/v1/tickets", params={"party": "street_office"}, headers=PM).status_code == 403
    assert intake.http.get("/v1/tickets", headers=SO).json()["tickets"] == []
    assert [t["id"] for t in intake.http.get("/v1/tickets", headers=PM_ELSEWHERE).json()["tickets"]] == [elsewhere_id]
    topics = {"community": "梅林小区"}
    assert intake.http.get("/v1/topics", params=topics, headers=PM).status_code == 403
    assert intake.http.get("/v1/topics", params={"community": COMMUNITY}, headers=OWNER).status_code == 403
    assert intake.http.post(f"/v1/tickets/{ticket_id}/accept", headers=OWNER).status_code == 403
    assert intake.http.post(f"/v1/tickets/{ticket_id}/accept", headers=PM).json()["status"] == "accepted"


def test_the_manual_queue_is_for_the_communitys_dispatchers(intake: RunningIntake) -> None:
    ticket_id = submitted(intake, text="小区东门外堆了很多建筑垃圾,说不清归谁管")
    assert TriageFlows(intake.server.context).send_to_manual(ticket_id, reason="routing unavailable")
    queue = {"status": "needs_manual"}
    dispatcher_view = intake.http.get("/v1/tickets", params=queue, headers=DISPATCHER).json()["tickets"]
    assert [t["id"] for t in dispatcher_view] == [ticket_id]
    assert intake.http.get(f"/v1/tickets/{ticket_id}", headers=DISPATCHER).status_code == 200
    assert intake.http.get("/v1/tickets", params=queue, headers=PM).json()["tickets"] == []
    assert intake.http.get(f"/v1/tickets/{ticket_id}", headers=PM).status_code == 404
    other_dispatcher = as_worker("d-2", "street_office", "梅林小区", "dispatcher")
    assert intake.http.get(f"/v1/tickets/{ticket_id}", headers=other_dispatcher).status_code == 404
    body = {"to_party": "street_office"}
    assert intake.http.post(f"/v1/tickets/{ticket_id}/dispatch", json=body, headers=other_dispatcher).status_code == 404
    dispatched = intake.http.post(f"/v1/tickets/{ticket_id}/dispatch", json=body, headers=DISPATCHER).json()
    assert (dispatched["status"], dispatched["party"]) == ("routed", "street_office")


@pytest.fixture
def stubs(
    retrieval_server: ServerHandle, routing_server: ServerHandle
) -> Iterator[tuple[retrieval_pb2_grpc.RetrievalServiceStub, routing_pb2_grpc.RoutingServiceStub]]:
    with (
        grpc.insecure_channel(f"127.0.0.1:{retrieval_server.port}") as retrieval,
        grpc.insecure_channel(f"127.0.0.1:{routing_server.port}") as routing,
    ):
        yield retrieval_pb2_grpc.RetrievalServiceStub(retrieval), routing_pb2_grpc.RoutingServiceStub(routing)


def test_catalog_and_model_operations_need_an_admin_or_a_service(
    stubs: tuple[retrieval_pb2_grpc.RetrievalServiceStub, routing_pb2_grpc.RoutingServiceStub],
) -> None:
    retrieval, routing = stubs
    operations: list[Callable[..., object]] = [
        lambda **kw: retrieval.SnapshotIndex(retrieval_pb2.SnapshotIndexRequest(), timeout=60, **kw),
        lambda **kw: retrieval.DeleteCases(
            retrieval_pb2.DeleteCasesRequest(case_ids=["no-such-case"]), timeout=30, **kw
        ),
        lambda **kw: routing.ReloadModel(routing_pb2.ReloadModelRequest(), timeout=60, **kw),
    ]
    worker = worker_metadata("w-pm", "property_manager", COMMUNITY, "dispatcher")
    admin = worker_metadata("admin-1", "street_office", role="admin")
    for operation in operations:
        for metadata, expected in (
            (None, grpc.StatusCode.UNAUTHENTICATED),
            (worker, grpc.StatusCode.PERMISSION_DENIED),
        ):
            with pytest.raises(grpc.RpcError) as raised:
                operation(metadata=metadata)
            assert raised.value.code() == expected
        operation(metadata=admin)
        operation(metadata=service_metadata())
    # Reads need a service's or an admin's token too (tests/security/test_service_rpcs.py probes each one).
    stats = retrieval_pb2.GetIndexStatsRequest()
    assert retrieval.GetIndexStats(stats, timeout=10, metadata=service_metadata()).case_count > 0
    assert routing.GetModelInfo(routing_pb2.GetModelInfoRequest(), timeout=10, metadata=admin).model.version
