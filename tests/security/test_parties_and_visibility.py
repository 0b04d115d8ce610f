"""Probes #1 (tickets handed to no party vanish) and #8 (what an action's error says about tickets one cannot see)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import grpc
import httpx
import pytest

from linli.v1 import intake_pb2, intake_pb2_grpc
from services.intake.auth.commands import add_token_commands, run_token_command
from tests.conftest import free_port
from tests.security.conftest import COMMUNITY, RunningStack, start_intake, stop
from tests.tokens import as_worker, worker_metadata

pytestmark = [pytest.mark.integration, pytest.mark.security]
UNKNOWN_PARTIES = ["propety_manager", "admin"]


def routed(stack: RunningStack, resident: str, party: str = "property_manager") -> str:
    ticket_id = stack.submit(resident)
    stack.set_state(ticket_id, status="routed", party=party, routed_party=party)
    return ticket_id


@pytest.mark.parametrize("party", UNKNOWN_PARTIES)
def test_a_transfer_to_an_unknown_party_is_refused(
    stack: RunningStack, fresh_id: Callable[[str], str], party: str
) -> None:
    ticket_id = routed(stack, fresh_id("r"))
    reply = stack.http.post(
        f"/v1/tickets/{ticket_id}/transfer",
        json={"to_party": party, "reason": "不归我们管"},
        headers=as_worker("w-pm", "property_manager", COMMUNITY),
    )
    assert reply.status_code == 422, reply.text
    assert reply.json()["error"]["fields"][0]["field"] == "to_party"
    stub = intake_pb2_grpc.IntakeServiceStub(stack.channel)
    with pytest.raises(grpc.RpcError) as refused:
        stub.TransferTicket(
            intake_pb2.TransferTicketRequest(ticket_id=ticket_id, to_party=party, reason="不归我们管"),
            metadata=worker_metadata("w-pm", "property_manager", COMMUNITY),
        )
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    still = stack.http.get(f"/v1/tickets/{ticket_id}", headers=as_worker("w-pm", "property_manager", COMMUNITY))
    assert (still.json()["status"], still.json()["party"]) == ("routed", "property_manager")


@pytest.mark.parametrize("party", UNKNOWN_PARTIES)
def test_a_dispatch_to_an_unknown_party_is_refused(
    stack: RunningStack, fresh_id: Callable[[str], str], party: str
) -> None:
    ticket_id = stack.submit(fresh_id("r"))
    stack.set_state(ticket_id, status="needs_manual")
    dispatcher = as_worker("d-1", "street_office", COMMUNITY, role="dispatcher")
    reply = stack.http.post(f"/v1/tickets/{ticket_id}/dispatch", json={"to_party": party}, headers=dispatcher)
    assert reply.status_code == 422, reply.text
    stub = intake_pb2_grpc.IntakeServiceStub(stack.channel)
    with pytest.raises(grpc.RpcError) as refused:
        stub.DispatchTicket(
            intake_pb2.DispatchTicketRequest(ticket_id=ticket_id, to_party=party),
            metadata=worker_metadata("d-1", "street_office", COMMUNITY, role="dispatcher"),
        )
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    known = stack.http.post(f"/v1/tickets/{ticket_id}/dispatch", json={"to_party": "street_office"}, headers=dispatcher)
    assert known.status_code == 200, known.text


def test_no_worker_token_is_issued_for_an_unknown_party(capsys: pytest.CaptureFixture[str]) -> None:
    def issue(party: str) -> int:
        parser = argparse.ArgumentParser(prog="linli")
        add_token_commands(parser.add_subparsers(dest="command"))
        return run_token_command(parser.parse_args(["token", "issue", "--worker-id", "w-1", "--party", party]))

    assert issue("propety_manager") == 2
    assert "unknown party 'propety_manager'" in capsys.readouterr().err
    assert issue("property_manager") == 0


def test_at_start_tickets_held_by_no_known_party_return_to_the_manual_queue(
    stack: RunningStack, fresh_id: Callable[[str], str], tmp_path: Path
) -> None:
    lost = routed(stack, fresh_id("r"), party="propety_manager")  # as an unchecked transfer left it
    kept = routed(stack, fresh_id("r"))
    # A second intake on the same database, as a restart or a new replica would start.
    second = stack.settings.model_copy(update={"http_port": free_port(), "grpc_port": free_port()})
    stop(start_intake(second, tmp_path / "second-intake.log"))
    dispatcher = as_worker("d-1", "street_office", COMMUNITY, role="dispatcher")
    ticket = stack.http.get(f"/v1/tickets/{lost}", headers=dispatcher).json()
    assert (ticket["status"], ticket["party"]) == ("needs_manual", "")
    last = ticket["events"][-1]
    assert (last["kind"], last["from_party"]) == ("needs_manual", "propety_manager")
    assert "propety_manager" in last["note"]
    untouched = stack.http.get(f"/v1/tickets/{kept}", headers=as_worker("w-pm", "property_manager", COMMUNITY))
    assert untouched.json()["status"] == "routed"


def worker_actions(ticket_id: str, other_id: str) -> list[tuple[str, dict[str, object]]]:
    """Every worker action on a ticket, each with a valid body."""
    return [
        ("accept", {}),
        ("start", {}),
        ("transfer", {"to_party": "owners_committee", "reason": "不归我们管"}),
        ("resolve", {"resolution": "已经处理好了"}),
        ("merge", {"primary_ticket_id": other_id}),
        ("unmerge", {"reason": "不是同一个问题"}),
        ("dispatch", {"to_party": "street_office"}),
        ("split", {"text": "小区门口总有车停在消防通道上"}),
    ]


def test_a_ticket_one_may_not_see_is_404_whatever_the_action(
    stack: RunningStack, fresh_id: Callable[[str], str]
) -> None:
    ticket_id = routed(stack, fresh_id("r"))  # the property manager's, and not merged
    other_id = routed(stack, fresh_id("r"))
    street_worker = as_worker("w-so", "street_office", COMMUNITY)
    elsewhere = as_worker("w-pm-2", "property_manager", "阳光花园")
    for action, body in worker_actions(ticket_id, other_id):
        for headers in (street_worker, elsewhere):
            reply = stack.http.post(f"/v1/tickets/{ticket_id}/{action}", json=body, headers=headers)
            assert reply.status_code == 404, (action, reply.text)
            assert ticket_id in reply.json()["error"]["message"]
    missing = stack.http.post(
        "/v1/tickets/no-such-ticket/unmerge", json={"reason": "不是同一个问题"}, headers=street_worker
    )
    assert missing.status_code == 404


def test_grpc_unmerge_of_a_ticket_one_may_not_see_is_not_found(
    stack: RunningStack, fresh_id: Callable[[str], str]
) -> None:
    ticket_id = routed(stack, fresh_id("r"))
    stub = intake_pb2_grpc.IntakeServiceStub(stack.channel)
    with pytest.raises(grpc.RpcError) as refused:
        stub.UnmergeTicket(
            intake_pb2.UnmergeTicketRequest(ticket_id=ticket_id, reason="不是同一个问题"),
            metadata=worker_metadata("w-so", "street_office", COMMUNITY),
        )
    assert refused.value.code() is grpc.StatusCode.NOT_FOUND


def test_the_owner_still_gets_the_state_rule(stack: RunningStack, fresh_id: Callable[[str], str]) -> None:
    ticket_id = routed(stack, fresh_id("r"))
    reply: httpx.Response = stack.http.post(
        f"/v1/tickets/{ticket_id}/unmerge",
        json={"reason": "不是同一个问题"},
        headers=as_worker("w-pm", "property_manager", COMMUNITY),
    )
    assert reply.status_code == 409, reply.text
