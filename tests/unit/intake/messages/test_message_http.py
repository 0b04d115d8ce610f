"""GET/POST /v1/tickets/{id}/messages: status codes, shapes, who sees what, and the waiting state on the ticket."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from services.intake.auth.tokens import issue_token
from services.intake.database import Database
from services.intake.http_app import create_http_app
from services.intake.ratelimit import RateLimiter
from services.intake.ratelimit.counters import MemoryWindowCounter
from services.intake.ratelimit.limiter import Limit, Scope
from tests.tokens import TEST_TTL, as_resident, as_worker, bearer, environment_codec
from tests.unit.intake.fakes import Intake, decision, face_services, http_security

VALID = {"text": "小区门口的路灯坏了", "community": "西渚社区"}
PM = as_worker("w-7", "property_manager", "西渚社区")
OWNERS = as_worker("w-5", "owners_committee", "西渚社区")
RESIDENT = as_resident("r-1")
NEIGHBOUR = as_resident("r-2")


@pytest.fixture
def intake(tmp_path: Path) -> Iterator[Intake]:
    database = Database(f"sqlite:///{tmp_path / 'tickets.sqlite'}")
    database.upgrade_schema()
    yield Intake(database)
    database.dispose()


def client_for(intake: Intake, limiter: RateLimiter | None = None) -> TestClient:
    ready = threading.Event()
    ready.set()
    app = create_http_app(
        intake.flows,
        http_security(limiter),
        intake.database,
        ready,
        messages=intake.messages,
        faces=face_services(intake.flows, intake.database),
    )
    return TestClient(app, headers=RESIDENT)


@pytest.fixture
def client(intake: Intake) -> TestClient:
    return client_for(intake)


def routed(client: TestClient, intake: Intake) -> str:
    ticket_id = str(client.post("/v1/tickets", json=VALID).json()["id"])
    intake.triage.record_triage(ticket_id, decision("property_manager"))
    return ticket_id


def test_a_question_and_its_answer(client: TestClient, intake: Intake) -> None:
    ticket_id = routed(client, intake)
    asked = client.post(
        f"/v1/tickets/{ticket_id}/messages", json={"text": "请问是哪个单元?", "asks_resident": True}, headers=PM
    )
    assert asked.status_code == 201, asked.text
    body = asked.json()
    assert (body["author"], body["party"], body["asks_resident"], body["internal"]) == (
        "worker",
        "property_manager",
        True,
        False,
    )
    assert body["ticket"]["status"] == "waiting_resident"
    assert body["ticket"]["waiting_since"] is not None
    answered = client.post(f"/v1/tickets/{ticket_id}/messages", json={"text": "3 单元"})
    assert answered.status_code == 201, answered.text
    assert (answered.json()["author"], answered.json()["ticket"]["status"]) == ("resident", "routed")
    assert answered.json()["ticket"]["unread_resident_messages"] == 1
    thread = client.get(f"/v1/tickets/{ticket_id}/messages").json()["messages"]
    assert [(m["author"], m["text"]) for m in thread] == [("worker", "请问是哪个单元?"), ("resident", "3 单元")]
    assert set(thread[0]) == {
        "id", "ticket_id", "author", "party", "text", "internal", "asks_resident", "attachment_urls", "created_at"
    }  # fmt: skip


def test_internal_notes_stay_with_the_workers(client: TestClient, intake: Intake) -> None:
    ticket_id = routed(client, intake)
    note = client.post(f"/v1/tickets/{ticket_id}/messages", json={"text": "先查线路", "internal": True}, headers=PM)
    assert note.status_code == 201
    assert client.get(f"/v1/tickets/{ticket_id}/messages").json() == {"messages": []}
    assert [m["internal"] for m in client.get(f"/v1/tickets/{ticket_id}/messages", headers=PM).json()["messages"]] == [
        True
    ]


def test_the_unread_mark_clears_when_a_worker_reads(client: TestClient, intake: Intake) -> None:
    ticket_id = routed(client, intake)
    client.post(f"/v1/tickets/{ticket_id}/messages", json={"text": "灯还是不亮"})
    listed = client.get("/v1/tickets", params={"party": "property_manager"}, headers=PM).json()["tickets"]
    assert [t["unread_resident_messages"] for t in listed] == [1]
    client.get(f"/v1/tickets/{ticket_id}/messages", headers=PM)
    assert client.get(f"/v1/tickets/{ticket_id}", headers=PM).json()["unread_resident_messages"] == 0


SERVICE = bearer(issue_token("service", "intake-worker", ttl=TEST_TTL, codec=environment_codec())[0])


@pytest.mark.parametrize("headers", [NEIGHBOUR, OWNERS, SERVICE])
def test_others_get_404(client: TestClient, intake: Intake, headers: dict[str, str]) -> None:
    ticket_id = routed(client, intake)
    assert client.get(f"/v1/tickets/{ticket_id}/messages", headers=headers).status_code == 404
    posted = client.post(f"/v1/tickets/{ticket_id}/messages", json={"text": "看看"}, headers=headers)
    assert posted.status_code == 404


def test_bad_bodies_are_422_naming_the_field(client: TestClient, intake: Intake) -> None:
    ticket_id = routed(client, intake)
    for body, field in (
        ({"text": "\u200b\u200b"}, "text"),
        ({"text": "我也要备注", "internal": True}, "internal"),
        ({"text": "正常的字", "colour": "red"}, "colour"),
        ({"text": "正常的字", "internal": "yes"}, "internal"),
    ):
        answer = client.post(f"/v1/tickets/{ticket_id}/messages", json=body)
        assert answer.status_code == 422, body
        assert answer.json()["error"]["fields"][0]["field"] == field
    assert client.get(f"/v1/tickets/{ticket_id}/messages").json() == {"messages": []}


def test_a_question_on_a_closed_matter_is_409(client: TestClient, intake: Intake) -> None:
    ticket_id = routed(client, intake)
    client.post(f"/v1/tickets/{ticket_id}/accept", headers=PM)
    client.post(f"/v1/tickets/{ticket_id}/resolve", json={"resolution": "已修好"}, headers=PM)
    asked = client.post(
        f"/v1/tickets/{ticket_id}/messages", json={"text": "修好了吗?", "asks_resident": True}, headers=PM
    )
    assert asked.status_code == 409


def test_residents_messages_count_against_their_write_limit(intake: Intake) -> None:
    client = client_for(intake, RateLimiter({Scope.RESIDENT_WRITE: Limit(1)}, MemoryWindowCounter()))
    ticket_id = routed(client, intake)
    assert client.post(f"/v1/tickets/{ticket_id}/messages", json={"text": "第一条"}).status_code == 201
    limited = client.post(f"/v1/tickets/{ticket_id}/messages", json={"text": "第二条"})
    assert limited.status_code == 429
    assert limited.headers["Retry-After"]
