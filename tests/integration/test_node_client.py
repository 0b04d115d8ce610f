"""A Node.js client (@grpc/grpc-js + @grpc/proto-loader, built from protos/ only) calls every service and agrees with
the Python stubs: the contract works from a stack nobody on the team wrote."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import grpc
import pytest

from linli.grpc_serving import ServerHandle
from linli.v1 import (
    cases_pb2,
    intake_pb2,
    intake_pb2_grpc,
    retrieval_pb2,
    retrieval_pb2_grpc,
    routing_pb2,
    routing_pb2_grpc,
)
from tests.integration.conftest import RunningIntake
from tests.tokens import as_service, resident_metadata, resident_token, service_token

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "tests" / "node" / "interop_client.mjs"
NODE_SECONDS = 60
COMPLAINT = {
    "text": "3号楼2单元楼道的灯坏了一个多星期了,晚上上下楼黑漆漆的,老人容易摔跤",
    "community": "恒康居民区",
    "resident": "resident-node",
}


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """The interop check is about the wire, not the ticket store: SQLite alone is enough here."""
    return f"sqlite:///{tmp_path / 'tickets.sqlite'}"


def run_node_client(**targets: str) -> dict[str, Any]:
    """Runs the Node client against the given targets and returns the JSON it printed."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the Node.js interoperability check needs Node.js ≥ 18")
    if not (ROOT / "node_modules" / "@grpc" / "grpc-js").is_dir():
        pytest.fail("@grpc/grpc-js is missing: run `make setup` (npm install)")
    command = [node, str(CLIENT), "--protos", str(ROOT / "protos"), "--service-token", service_token("node-interop")]
    for role, target in targets.items():
        command += [f"--{role}", target]
    for name, value in COMPLAINT.items():
        command += [f"--{name}", value]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=NODE_SECONDS, check=False)
    assert result.returncode == 0, f"node client failed ({result.returncode}): {result.stderr[-3000:]}"
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_node_client_reads_retrieval_like_python(retrieval_server: ServerHandle) -> None:
    target = f"127.0.0.1:{retrieval_server.port}"
    report = run_node_client(retrieval=target)["retrieval"]
    assert report["anonymous"]["code"] == "UNAUTHENTICATED"  # retrieval answers services only, from Node too
    with as_service(grpc.insecure_channel(target)) as channel:
        stub = retrieval_pb2_grpc.RetrievalServiceStub(channel)
        stats = stub.GetIndexStats(retrieval_pb2.GetIndexStatsRequest(), timeout=10)
        search = stub.SearchCases(
            retrieval_pb2.SearchCasesRequest(
                text=COMPLAINT["text"], k=3, filter=cases_pb2.CaseFilter(resolved_only=True)
            ),
            timeout=10,
        )
    # int64 crosses as a decimal string (proto-loader's longs: String), exactly as proto3 JSON maps it.
    assert report["stats"] == {"case_count": str(stats.case_count), "dimension": 512, "model": "m3e-small"}
    assert [hit["id"] for hit in report["search"]["results"]] == [hit.case.id for hit in search.results]
    assert [hit["party"] for hit in report["search"]["results"]] == [hit.case.party for hit in search.results]
    for node_hit, python_hit in zip(report["search"]["results"], search.results, strict=True):
        assert node_hit["score"] == pytest.approx(python_hit.score, abs=1e-5)
    # A domain error keeps its code and its google.rpc.BadRequest field violation across languages.
    assert report["bad_k"]["code"] == "INVALID_ARGUMENT"
    assert [violation["field"] for violation in report["bad_k"]["violations"]] == ["k"]


def test_node_client_routes_like_python(routing_server: ServerHandle) -> None:
    target = f"127.0.0.1:{routing_server.port}"
    decision = run_node_client(routing=target)["routing"]
    with as_service(grpc.insecure_channel(target)) as channel:
        expected = (
            routing_pb2_grpc.RoutingServiceStub(channel)
            .Route(
                routing_pb2.RouteRequest(
                    complaint=routing_pb2.Complaint(text=COMPLAINT["text"], community=COMPLAINT["community"])
                ),
                timeout=10,
            )
            .decision
        )
    assert decision["party"] == expected.party
    assert decision["abstained"] is expected.abstained
    assert decision["confidence"] == pytest.approx(expected.confidence)
    assert decision["deciding_signal"] == routing_pb2.DecidingSignal.Name(expected.rationale.deciding_signal)
    assert decision["similar_case_ids"] == [hit.case.id for hit in expected.similar_cases]
    probabilities = {score["party"]: score["probability"] for score in decision["alternatives"]}
    assert set(probabilities) == {"property_manager", "owners_committee", "street_office"}
    assert sum(probabilities.values()) == pytest.approx(1.0)


def test_node_client_submits_and_reads_a_ticket(intake: RunningIntake) -> None:
    report = run_node_client(intake=intake.grpc_target, token=resident_token(COMPLAINT["resident"]))["intake"]
    submitted, fetched = report["submitted"], report["fetched"]
    assert submitted["created"] is True
    # The retried submit with the same idempotency key returns the first ticket instead of a second one.
    assert report["retried"] == {"id": submitted["id"], "created": False}
    assert fetched["id"] == submitted["id"]
    assert (fetched["text"], fetched["community"], fetched["resident_id"]) == (
        COMPLAINT["text"],
        COMPLAINT["community"],
        COMPLAINT["resident"],
    )
    assert fetched["event_kinds"][0] == "received"
    assert report["missing"]["code"] == "NOT_FOUND"
    assert report["anonymous"]["code"] == "UNAUTHENTICATED"  # no token, no ticket: from Node as from Python
    # What Node stored is what Python reads: same ticket, same status, same creation second.
    with grpc.insecure_channel(intake.grpc_target) as channel:
        ticket = (
            intake_pb2_grpc.IntakeServiceStub(channel)
            .GetTicket(
                intake_pb2.GetTicketRequest(ticket_id=submitted["id"]),
                timeout=10,
                metadata=resident_metadata(COMPLAINT["resident"]),
            )
            .ticket
        )
    assert ticket.text == COMPLAINT["text"]
    assert str(ticket.created_at.seconds) == fetched["created_at_seconds"]
    assert intake_pb2.TicketStatus.Name(ticket.status) in {submitted["status"], fetched["status"]}
