"""Issue #16, item 4: names a worker wrote in community A never reach a resident of community B.

A worker resolves a ticket with "已联系李建华,明天上门维修" (its complaint names 张伟), the learning task teaches the
index, and a resident of another community asks a similar question and submits a similar ticket. Retrieval here is
an index filled before the name scrubber: it keeps and returns cases word for word, so intake alone must keep the
names (and the neighbour's complaint) from the resident, over HTTP, gRPC and notifications.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import cast

import numpy as np
import numpy.typing as npt
import pytest
from fastapi.testclient import TestClient
from google.protobuf import json_format

from linli.catalog import load_catalog
from linli.clients.retrieval import RetrievalClient
from linli.clients.routing import RoutingClient
from linli.v1 import cases_pb2, routing_pb2
from services.intake.answers.flows import Answerer
from services.intake.answers.precedents import RetrievalCaseSearch
from services.intake.auth import Resident, Worker
from services.intake.database import Database
from services.intake.http_app import create_http_app
from services.intake.settings import DEFAULT_COMMUNITIES
from services.intake.tickets.servicer import ticket_to_proto
from services.intake.worker.tasks import TaskDeps, sync_case
from tests.tokens import as_resident, as_worker
from tests.unit.intake.fakes import Intake, decision, face_services, http_security

NAMES = ("李建华", "张伟")
COMMUNITY_A = "恒康居民区"
COMMUNITY_B = "梅林小区"
COMPLAINT_A = "张伟说3号楼楼道灯坏了一个星期了,晚上上下楼看不见路"
RESOLUTION_A = "已联系李建华,明天上门维修"
# Words of A's complaint that no scrubber removes: the neighbour must not read them either.
COMPLAINT_WORDS = "晚上上下楼看不见路"
LEGACY_CASE = cases_pb2.Case(
    id="legacy-1",
    complaint="张伟反映5号楼楼道灯不亮",
    resolution="已联系李建华换了灯泡",
    party="property_manager",
    category="stairwell_light_broken",
    community=COMMUNITY_A,
    status=cases_pb2.CASE_STATUS_RESOLVED,
)
NEIGHBOUR = "r-b"
NEIGHBOURS_WORKER = Worker("w-9", "property_manager", COMMUNITY_B)
CLOSE = 0.93  # every stored case is that close to any question: the test is about who reads what, not meaning


class OldIndex:
    """Retrieval over an index filled before the name scrubber: stores and returns cases word for word."""

    def __init__(self, *cases: cases_pb2.Case) -> None:
        self.cases = {case.id: case for case in cases}

    def upsert_cases(self, cases: Sequence[cases_pb2.Case]) -> None:
        self.cases.update({case.id: case for case in cases})

    def delete_cases(self, case_ids: Sequence[str]) -> None:
        for case_id in case_ids:
            self.cases.pop(case_id, None)

    def similar_resolved(
        self, *, k: int, text: str = "", vector: npt.NDArray[np.float32] | None = None
    ) -> list[cases_pb2.ScoredCase]:
        return [cases_pb2.ScoredCase(case=case, score=CLOSE) for case in list(self.cases.values())[:k]]


def decision_quoting(index: OldIndex) -> routing_pb2.RoutingDecision:
    """What a router before this change stored: the precedents, a summary and a suggestion quoting them verbatim."""
    routed = decision(entry_id="stairwell_light_broken")
    hits = index.similar_resolved(k=5)
    routed.similar_cases.extend(hits)
    routed.rationale.summary = f"{len(hits)} 件相似已办结案例,最相似的「{hits[0].case.complaint[:30]}」相似度 0.93"
    routed.suggested_resolution = "参考相似案例:" + ";".join(hit.case.resolution for hit in hits)
    return routed


@pytest.fixture
def intake(tmp_path: Path) -> Iterator[Intake]:
    database = Database(f"sqlite:///{tmp_path / 'tickets.sqlite'}")
    database.upgrade_schema()
    yield Intake(database)
    database.dispose()


@pytest.fixture
def index() -> OldIndex:
    return OldIndex(LEGACY_CASE)


@pytest.fixture
def client(intake: Intake, index: OldIndex) -> TestClient:
    ready = threading.Event()
    ready.set()
    search = RetrievalCaseSearch(cast(RetrievalClient, index))
    faces = dataclasses.replace(
        face_services(intake.flows, intake.database),
        answerer=Answerer(search, load_catalog(), DEFAULT_COMMUNITIES),
    )
    return TestClient(create_http_app(intake.flows, http_security(), intake.database, ready, faces=faces))


def resolve_in_community_a(client: TestClient, intake: Intake, index: OldIndex) -> None:
    """A resident of A complains, A's property manager resolves it, and the learning task teaches the index."""
    submitted = client.post(
        "/v1/tickets", json={"text": COMPLAINT_A, "community": COMMUNITY_A}, headers=as_resident("r-a")
    )
    ticket_id = submitted.json()["id"]
    intake.triage.record_triage(ticket_id, decision(entry_id="stairwell_light_broken"))
    worker_a = as_worker("w-7", "property_manager", COMMUNITY_A)
    assert client.post(f"/v1/tickets/{ticket_id}/accept", headers=worker_a).status_code == 200
    resolved = client.post(f"/v1/tickets/{ticket_id}/resolve", json={"resolution": RESOLUTION_A}, headers=worker_a)
    assert resolved.status_code == 200, resolved.text
    deps = TaskDeps(
        intake.triage, intake.learning, intake.sweeps, cast(RoutingClient, None), cast(RetrievalClient, index)
    )
    assert sync_case(ticket_id, deps) == "upsert"


def assert_private(readable: str) -> None:
    for secret in (*NAMES, COMPLAINT_WORDS, LEGACY_CASE.complaint[2:]):
        assert secret not in readable


def test_a_neighbour_in_another_community_reads_no_name_and_no_complaint(
    client: TestClient, intake: Intake, index: OldIndex
) -> None:
    resolve_in_community_a(client, intake, index)
    neighbour = as_resident(NEIGHBOUR)

    asked = client.post("/v1/answers", json={"text": "楼道灯坏了归谁管?", "community": COMMUNITY_B}, headers=neighbour)
    answer = asked.json()
    assert answer["answered"] is True, answer
    assert (answer["answer"]["precedent"], answer["answer"]["similar_resolved_count"]) == (None, 2)
    assert "[姓名]" in answer["answer"]["text"]  # the suggested answer is shown, scrubbed
    submitted = client.post(
        "/v1/tickets", json={"text": "我们楼的楼道灯坏了,谁来修?", "community": COMMUNITY_B}, headers=neighbour
    )
    ticket_id = submitted.json()["id"]
    intake.triage.record_triage(ticket_id, decision_quoting(index))
    ticket = client.get(f"/v1/tickets/{ticket_id}", headers=neighbour).json()
    listing = client.get("/v1/tickets", headers=neighbour).text
    messaged = client.post(f"/v1/tickets/{ticket_id}/messages", json={"text": "好的,谢谢"}, headers=neighbour).text
    over_grpc = json_format.MessageToJson(ticket_to_proto(intake.flows.get(ticket_id), Resident(NEIGHBOUR)))
    notices = json.dumps(
        [dataclasses.asdict(e) for e in intake.notifier.events if e.ticket_id == ticket_id],
        ensure_ascii=False,
        default=str,
    )

    assert intake.notifier.kinds(ticket_id) == ["routed"]
    for readable in (asked.text, submitted.text, json.dumps(ticket, ensure_ascii=False), listing, messaged):
        assert_private(readable)
    assert_private(over_grpc)
    assert_private(notices)
    routing = ticket["routing"]
    assert (routing["similar_cases"], routing["similar_resolved_count"]) == ([], 2)
    assert "参考了 2 件相似的已办结案例" in routing["rationale"]
    assert "[姓名]" in routing["suggested_resolution"]


def test_a_worker_keeps_the_precedents_scrubbed(client: TestClient, intake: Intake, index: OldIndex) -> None:
    resolve_in_community_a(client, intake, index)
    submitted = client.post(
        "/v1/tickets", json={"text": "楼道灯坏了", "community": COMMUNITY_B}, headers=as_resident(NEIGHBOUR)
    )
    ticket_id = submitted.json()["id"]
    intake.triage.record_triage(ticket_id, decision_quoting(index))

    seen = client.get(f"/v1/tickets/{ticket_id}", headers=as_worker("w-9", "property_manager", COMMUNITY_B))
    over_grpc = ticket_to_proto(intake.flows.get(ticket_id), NEIGHBOURS_WORKER)

    cases = seen.json()["routing"]["similar_cases"]
    assert [case["complaint"] for case in cases] == [
        "[姓名]反映5号楼楼道灯不亮",
        "[姓名]说3号楼楼道灯坏了一个星期了,晚上上下楼看不见路",
    ]
    assert "已联系[姓名],明天上门维修" in [case["resolution"] for case in cases]
    assert "「[姓名]反映5号楼楼道灯不亮」" in seen.json()["routing"]["rationale"]
    for name in NAMES:
        assert name not in seen.text
        assert name not in json_format.MessageToJson(over_grpc)
    assert len(over_grpc.routing.similar_cases) == 2
