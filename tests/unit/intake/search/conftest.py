"""A search test's intake: the real HTTP app over a migrated SQLite store, and helpers that make tickets through it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.intake.database import Database
from services.intake.http_app import create_http_app
from tests.tokens import as_resident, as_worker
from tests.unit.intake.fakes import Intake, decision, face_services, http_security

HOME = "西渚社区"
ELSEWHERE = "梅林小区"
PM = as_worker("w-7", "property_manager", HOME)
PM_ELSEWHERE = as_worker("w-8", "property_manager", ELSEWHERE)
PM_EVERYWHERE = as_worker("w-9", "property_manager")
WATER = as_worker("w-3", "owners_committee", HOME)
DISPATCH = as_worker("d-1", "street_office", HOME, "dispatcher")


@pytest.fixture
def intake(tmp_path: Path) -> Iterator[Intake]:
    database = Database(f"sqlite:///{tmp_path / 'tickets.sqlite'}")
    database.upgrade_schema()
    yield Intake(database)
    database.dispose()


def client_over(intake: Intake) -> TestClient:
    """The HTTP app over `intake`; calls carry the property manager's token unless a test sends another."""
    ready = threading.Event()
    ready.set()
    app = create_http_app(
        intake.flows, http_security(), intake.database, ready, faces=face_services(intake.flows, intake.database)
    )
    return TestClient(app, headers=PM)


@pytest.fixture
def client(intake: Intake) -> TestClient:
    return client_over(intake)


def ticket(
    client: TestClient,
    intake: Intake,
    text: str,
    *,
    community: str = HOME,
    building: str = "",
    party: str = "property_manager",
    resident: str = "r-1",
) -> str:
    """A resident's ticket, routed to `party` (an empty party leaves it in the manual queue)."""
    body: dict[str, Any] = {"text": text, "community": community, "building": building}
    reply = client.post("/v1/tickets", json=body, headers=as_resident(resident))
    assert reply.status_code == 201, reply.text
    ticket_id = str(reply.json()["id"])
    intake.triage.record_triage(ticket_id, decision(party) if party else decision(abstained=True, confidence=0.1))
    return ticket_id


def search(client: TestClient, q: str, headers: dict[str, str] | None = None, **params: Any) -> list[str]:
    """The ids a search finds (all pages), asserting it answered 200."""
    found: list[str] = []
    token = ""
    while True:
        reply = client.get("/v1/search/tickets", params={"q": q, "page_token": token, **params}, headers=headers)
        assert reply.status_code == 200, reply.text
        body = reply.json()
        found += [hit["ticket"]["id"] for hit in body["results"]]
        token = body["next_page_token"]
        if not token:
            return found
