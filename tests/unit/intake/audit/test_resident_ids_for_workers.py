"""Workers never read a resident's openid: tickets (HTTP and gRPC shapes) and their history name the resident by
the audit log's pseudonym; the resident still sees their own id."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from services.intake.audit.flows import AuditLog
from services.intake.database import Database
from services.intake.http_app import create_http_app
from services.intake.residents.erasure import ErasureFlows
from services.intake.tickets.servicer import ticket_to_proto
from services.intake.tickets.validation import Submission
from tests.tokens import as_resident, as_worker
from tests.unit.intake.audit.conftest import stored_events, table_text
from tests.unit.intake.fakes import PROPERTY, Intake, decision, face_services, http_security

OPENID = "oWx-openid-of-a-resident"
RESIDENT = as_resident(OPENID)
PM = as_worker("w-7", "property_manager", "西渚社区")


@pytest.fixture
def full_client(database: Database, audit: AuditLog) -> Iterator[TestClient]:
    """The app with the tickets' conversations too."""
    database.upgrade_schema()
    ready = threading.Event()
    ready.set()
    intake = Intake(database)
    security = dataclasses.replace(http_security(), audit=audit)
    erasure = ErasureFlows(intake.context)
    app = create_http_app(
        intake.flows, security, database, ready, erasure, intake.messages, faces=face_services(intake.flows, database)
    )
    yield TestClient(app)
    database.dispose()


def test_workers_see_the_pseudonym_and_residents_their_own_id(
    full_client: TestClient, database: Database, audit: AuditLog
) -> None:
    client = full_client
    created = client.post("/v1/tickets", json={"text": "小区门口的路灯坏了", "community": "西渚社区"}, headers=RESIDENT)
    assert created.status_code == 201, created.text
    ticket_id = created.json()["id"]
    Intake(database).triage.record_triage(ticket_id, decision("property_manager"))
    pseudonym = audit.pseudonyms.of(OPENID)

    seen = client.get(f"/v1/tickets/{ticket_id}", headers=PM).json()
    assert seen["resident_id"] == pseudonym
    assert OPENID not in str(seen)
    assert f"resident:{pseudonym}" in [event["actor"] for event in seen["events"]]
    listed = client.get("/v1/tickets", headers=PM).json()["tickets"]
    assert [t["resident_id"] for t in listed] == [pseudonym]
    asked = client.post(f"/v1/tickets/{ticket_id}/messages", json={"text": "哪个单元?"}, headers=PM)
    assert asked.status_code == 201, asked.text
    assert asked.json()["ticket"]["resident_id"] == pseudonym

    own = client.get(f"/v1/tickets/{ticket_id}", headers=RESIDENT).json()
    assert own["resident_id"] == OPENID
    assert f"resident:{OPENID}" in [event["actor"] for event in own["events"]]


def test_the_grpc_shape_hides_the_openid_from_workers_too(database: Database, audit: AuditLog) -> None:
    database.upgrade_schema()
    intake = Intake(database)
    view, _ = intake.flows.submit(Submission(text="小区门口的路灯坏了", community="恒康居民区", resident_id=OPENID))
    shown = ticket_to_proto(view, PROPERTY, alias=audit.pseudonyms.of)
    assert shown.resident_id == audit.pseudonyms.of(OPENID)
    assert OPENID not in str(shown)


def test_a_residents_own_erasure_is_recorded_under_the_tombstone(full_client: TestClient, database: Database) -> None:
    created = full_client.post("/v1/tickets", json={"text": "楼道灯坏了", "community": "西渚社区"}, headers=RESIDENT)
    assert created.status_code == 201, created.text
    assert full_client.delete("/v1/me", headers=RESIDENT).status_code == 200
    [event] = [e for e in stored_events(database) if e.action == "resident_erased"]
    assert event.actor == f"resident:{event.subject}"
    assert event.subject.startswith("erased:")
    assert OPENID not in table_text(database)
