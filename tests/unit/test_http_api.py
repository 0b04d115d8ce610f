"""The HTTP JSON API: status codes, the error shape, and that a rejected request writes nothing."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from services.intake.database import Database
from services.intake.http_app import create_http_app
from services.intake.tickets.flows import TicketFlows
from services.intake.tickets.models import Ticket
from tests.unit.fakes import RecordingQueue, StepClock

VALID = {"text": "小区门口的路灯坏了", "community": "西渚花苑", "resident_id": "r-1"}


@pytest.fixture
def database(tmp_path: Path) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'tickets.sqlite'}")
    db.create_schema()
    return db


@pytest.fixture
def client(database: Database) -> TestClient:
    ready = threading.Event()
    ready.set()
    return TestClient(create_http_app(TicketFlows(database, RecordingQueue(), StepClock()), database, ready))


def stored(database: Database) -> int:
    with database.unit_of_work() as session:
        return int(session.scalar(select(func.count()).select_from(Ticket)) or 0)


def test_submit_then_get(client: TestClient) -> None:
    created = client.post("/v1/tickets", json=VALID)
    assert created.status_code == 201
    body = created.json()
    assert body["status"] == "received"
    assert body["events"][0]["kind"] == "received"
    fetched = client.get(f"/v1/tickets/{body['id']}")
    assert fetched.status_code == 200
    assert fetched.json()["text"] == VALID["text"]


def test_idempotency_key_header_makes_retries_safe(client: TestClient, database: Database) -> None:
    first = client.post("/v1/tickets", json=VALID, headers={"Idempotency-Key": "abc"})
    again = client.post("/v1/tickets", json=VALID, headers={"Idempotency-Key": "abc"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert stored(database) == 1


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({**VALID, "text": ""}, 422, "text"),
        ({**VALID, "text": "  \t "}, 422, "text"),
        ({**VALID, "text": "很" * 2001}, 422, "text"),
        ({**VALID, "text": 42}, 422, "text"),
        ({**VALID, "community": ["恒康"]}, 422, "community"),
        ({**VALID, "attachment_urls": "http://x"}, 422, "attachment_urls"),
        ({**VALID, "attachment_urls": ["ftp://x/a.jpg"]}, 422, "attachment_urls[0]"),
        ({**VALID, "surprise": True}, 422, "surprise"),
        ({"text": "楼道灯坏了", "resident_id": "r"}, 422, "community"),
    ],
)
def test_bad_bodies_get_a_4xx_naming_the_field(
    client: TestClient, database: Database, body: dict[str, object], status: int, field: str
) -> None:
    reply = client.post("/v1/tickets", json=body)
    assert reply.status_code == status
    error = reply.json()["error"]
    assert error["code"] == "invalid_argument"
    assert field in [f["field"] for f in error["fields"]]
    assert stored(database) == 0


def test_invalid_json_is_a_400(client: TestClient, database: Database) -> None:
    reply = client.post("/v1/tickets", content=b'{"text": "oops', headers={"Content-Type": "application/json"})
    assert reply.status_code == 400
    assert reply.json()["error"]["fields"][0]["field"] == "body"
    assert stored(database) == 0


def test_unknown_ticket_is_404(client: TestClient) -> None:
    reply = client.get("/v1/tickets/nope")
    assert reply.status_code == 404
    assert reply.json()["error"]["code"] == "not_found"


def test_wrong_party_is_403_and_wrong_state_is_409(client: TestClient) -> None:
    ticket = client.post("/v1/tickets", json=VALID).json()
    accept = client.post(f"/v1/tickets/{ticket['id']}/accept", json={"worker_id": "w", "party": "street_office"})
    assert accept.status_code == 403  # the ticket has no party yet and is not in the manual queue
    resolve = client.post(
        f"/v1/tickets/{ticket['id']}/resolve", json={"worker_id": "w", "party": "", "resolution": "已处理"}
    )
    assert resolve.status_code == 422


def test_listing_filters_and_pages(client: TestClient) -> None:
    for n in range(3):
        client.post("/v1/tickets", json={**VALID, "text": f"路灯坏了第{n}次"})
    client.post("/v1/tickets", json={**VALID, "community": "绿岛花园"})
    page = client.get("/v1/tickets", params={"community": "西渚花苑", "page_size": 2}).json()
    assert len(page["tickets"]) == 2
    assert page["next_page_token"]
    rest = client.get(
        "/v1/tickets", params={"community": "西渚花苑", "page_size": 2, "page_token": page["next_page_token"]}
    ).json()
    assert len(rest["tickets"]) == 1
    assert rest["next_page_token"] == ""
    assert client.get("/v1/tickets", params={"page_size": 0}).status_code == 422


def test_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}
