"""The resident's optional callback phone (联系电话) over the HTTP API: validated on submission, masked for workers,
read in full at GET /v1/tickets/{id}/contact only after the audit log recorded the read (GET /v1/audit as admin), never
exported nor sent in a webhook, cleared by erasure and by retention."""

from __future__ import annotations

import dataclasses
import io
import zipfile
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from services.intake.audit.flows import AuditLog, Pseudonyms
from services.intake.auth import Worker
from services.intake.database import Database
from services.intake.residents.erasure import ErasureFlows
from services.intake.residents.retention import RetentionSweep
from services.intake.tickets.context import LifecyclePolicy
from services.intake.tickets.models import Ticket
from tests.tokens import as_resident, as_worker
from tests.unit.intake.dashboards.timeline import StillClock
from tests.unit.intake.fakes import Intake, audited_http_app, decision

pytest_plugins = ["tests.unit.intake.database"]

PSEUDONYM_KEY = b"p" * 32
HENGKANG = "恒康居民区"
MOBILE = "13812345678"
RESIDENT = as_resident("openid-r1")
NEIGHBOUR = as_resident("openid-r2")
PM = as_worker("w-7", "property_manager", HENGKANG)
PM_ELSEWHERE = as_worker("w-9", "property_manager", "梅林小区")
OWNERS = as_worker("o-1", "owners_committee", HENGKANG)
ADMIN = as_worker("a-1", "street_office", role="admin")
PM_WORKER = Worker("w-7", "property_manager", HENGKANG)
T0 = StillClock().now


@dataclasses.dataclass
class App:
    client: TestClient
    intake: Intake
    audit: AuditLog


def make_app(database: Database) -> App:
    """The real HTTP app with a real audit log."""
    intake = Intake(database, clock=StillClock(), policy=LifecyclePolicy(personal_data_retention=timedelta(days=30)))
    audit = AuditLog(database, Pseudonyms(lambda: PSEUDONYM_KEY), clock=intake.clock)
    app = audited_http_app(intake, audit, erasure=ErasureFlows(intake.context))
    return App(TestClient(app), intake, audit)


@pytest.fixture
def app(ticket_database: Database) -> App:
    return make_app(ticket_database)


def submit(app: App, phone: str | None = MOBILE, headers: dict[str, str] = RESIDENT) -> str:
    """A complaint (with `phone` when given), routed to the property manager; its id."""
    body = {"text": "楼道灯坏了好几天了", "community": HENGKANG, **({"contact_phone": phone} if phone else {})}
    reply = app.client.post("/v1/tickets", json=body, headers=headers)
    assert reply.status_code == 201, reply.text
    ticket_id = str(reply.json()["id"])
    app.intake.triage.record_triage(ticket_id, decision("property_manager"))
    return ticket_id


def data_reads(app: App) -> list[dict[str, object]]:
    reply = app.client.get("/v1/audit", params={"action": "personal_data_read"}, headers=ADMIN)
    assert reply.status_code == 200, reply.text
    return list(reply.json()["events"])


def stored_phone(database: Database, ticket_id: str) -> str:
    with database.unit_of_work() as session:
        return str(session.scalar(select(Ticket.contact_phone).where(Ticket.id == ticket_id)))


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        (MOBILE, MOBILE),
        (" 138 1234 5678 ", MOBILE),
        ("+8613812345678", MOBILE),
        ("021-62345678", "021-62345678"),
        ("0755 2345 6789", "075523456789"),
        # As residents write them: groups split by hyphens, the area code in (full-width) parentheses.
        ("138-1234-5678", MOBILE),
        ("+86 138-1234-5678", MOBILE),
        ("021-6234-5678", "021-62345678"),
        ("(021) 6234 5678", "021-62345678"),
        ("（0755）2345-6789", "0755-23456789"),
    ],
)
def test_a_resident_leaves_a_mobile_or_a_landline_and_sees_it_in_full(app: App, given: str, stored: str) -> None:
    ticket_id = submit(app, given)
    assert stored_phone(app.intake.database, ticket_id) == stored
    own = app.client.get(f"/v1/tickets/{ticket_id}", headers=RESIDENT).json()
    assert (own["contact_phone"], own["has_contact_phone"]) == (stored, True)


def test_the_phone_is_optional(app: App) -> None:
    ticket_id = submit(app, None)
    seen = app.client.get(f"/v1/tickets/{ticket_id}", headers=PM).json()
    assert (seen["contact_phone"], seen["has_contact_phone"]) == ("", False)
    reply = app.client.get(f"/v1/tickets/{ticket_id}/contact", headers=PM)
    assert reply.json() == {"ticket_id": ticket_id, "contact_phone": "", "has_contact_phone": False}
    assert data_reads(app) == []  # nothing disclosed, nothing recorded


@pytest.mark.parametrize(
    "phone",
    [
        "12345678901",
        "1381234567",
        "138123456789",
        "10086",
        "abc13812345678",
        "13812345678;",
        "021-6234",
        "021-12345678",  # a local number never starts with 1
        "１３８１２３４５６７８",  # full-width digits
        "13８12345678",  # one of them full-width
        "138١٢٣٤٥٦٧٨",  # Arabic-Indic digits
        "138\u200b12345678",  # a zero-width space
        "+86-",
        "(021-62345678",  # a parenthesis left open
        "()13812345678",
    ],
)
def test_a_phone_that_is_no_phone_is_422_in_chinese(app: App, phone: str) -> None:
    body = {"text": "楼道灯坏了好几天了", "community": HENGKANG, "contact_phone": phone}
    reply = app.client.post("/v1/tickets", json=body, headers=RESIDENT)
    assert reply.status_code == 422, reply.text
    error = reply.json()["error"]
    assert error["fields"][0]["field"] == "contact_phone"
    assert "联系电话格式不正确" in error["fields"][0]["description"]


def test_a_phone_of_the_wrong_type_or_far_too_long_is_refused(app: App) -> None:
    for phone in (13812345678, "1" * 200):
        body = {"text": "楼道灯坏了好几天了", "community": HENGKANG, "contact_phone": phone}
        assert app.client.post("/v1/tickets", json=body, headers=RESIDENT).status_code == 422


def test_workers_see_a_mask_in_every_ticket_shape(app: App) -> None:
    ticket_id = submit(app)
    one = app.client.get(f"/v1/tickets/{ticket_id}", headers=PM).json()
    listed = app.client.get("/v1/tickets", headers=PM).json()["tickets"][0]
    inbox = app.client.get("/v1/inbox", headers=PM).json()["tickets"][0]
    for shape in (one, listed, inbox):
        assert (shape["contact_phone"], shape["has_contact_phone"]) == ("138****5678", True)
    for reply in (
        app.client.get(f"/v1/tickets/{ticket_id}", headers=PM),
        app.client.get("/v1/tickets", headers=PM),
        app.client.get("/v1/inbox", headers=PM),
    ):
        assert MOBILE not in reply.text


def test_the_contact_read_returns_the_number_after_the_audit_log_recorded_it(app: App) -> None:
    ticket_id = submit(app)
    app.intake.clock.now = T0 + timedelta(minutes=3)
    reply = app.client.get(f"/v1/tickets/{ticket_id}/contact", headers=PM)
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"ticket_id": ticket_id, "contact_phone": MOBILE, "has_contact_phone": True}
    assert reply.headers["cache-control"] == "no-store"
    (event,) = data_reads(app)
    assert event["actor"] == "worker:w-7"
    assert event["at"] == (T0 + timedelta(minutes=3)).isoformat().replace("+00:00", "Z")
    assert event["detail"] == {"fields": ["contact_phone"], "ticket_id": ticket_id}
    # The resident by the pseudonym workers see on the ticket, never by openid.
    pseudonym = app.client.get(f"/v1/tickets/{ticket_id}", headers=PM).json()["resident_id"]
    assert str(pseudonym).startswith("rp:")
    assert event["subject"] == f"resident:{pseudonym}"
    whole_log = app.client.get("/v1/audit", headers=ADMIN).text
    assert MOBILE not in whole_log
    assert "138****" not in whole_log  # nor its mask
    assert "openid-r1" not in whole_log


@pytest.mark.parametrize(
    ("headers", "status"),
    [(PM_ELSEWHERE, 404), (OWNERS, 404), (NEIGHBOUR, 404)],
    ids=["other-community", "other-party", "other-resident"],
)
def test_anyone_who_may_not_see_the_ticket_gets_404_and_nothing_is_recorded(
    app: App, headers: dict[str, str], status: int
) -> None:
    ticket_id = submit(app)
    reply = app.client.get(f"/v1/tickets/{ticket_id}/contact", headers=headers)
    assert reply.status_code == status, reply.text
    assert MOBILE not in reply.text
    assert app.client.get("/v1/tickets/no-such-ticket/contact", headers=PM).status_code == 404
    assert app.client.get(f"/v1/tickets/{ticket_id}/contact").status_code == 401
    assert data_reads(app) == []


def test_the_resident_reads_their_own_number_unrecorded(app: App) -> None:
    ticket_id = submit(app)
    reply = app.client.get(f"/v1/tickets/{ticket_id}/contact", headers=RESIDENT)
    assert reply.json()["contact_phone"] == MOBILE
    assert data_reads(app) == []


def test_when_the_audit_log_cannot_be_written_no_number_is_given(app: App) -> None:
    ticket_id = submit(app)
    with app.intake.database.unit_of_work() as session:
        session.execute(text("DROP TABLE audit_events"))  # every write of the log now fails
    reply = app.client.get(f"/v1/tickets/{ticket_id}/contact", headers=PM)
    assert reply.status_code == 503, reply.text
    assert reply.json()["error"]["code"] == "unavailable"
    assert MOBILE not in reply.text
    # The masked ticket is still readable: only the full number depends on the record.
    assert app.client.get(f"/v1/tickets/{ticket_id}", headers=PM).json()["contact_phone"] == "138****5678"


def test_erasure_clears_the_phone(app: App) -> None:
    ticket_id = submit(app)
    assert app.client.delete("/v1/me", headers=RESIDENT).status_code == 200
    assert stored_phone(app.intake.database, ticket_id) == ""
    seen = app.client.get(f"/v1/tickets/{ticket_id}", headers=PM).json()
    assert (seen["contact_phone"], seen["has_contact_phone"]) == ("", False)


def test_retention_clears_the_phone_of_a_ticket_closed_long_ago(app: App) -> None:
    ticket_id = submit(app)
    app.intake.flows.accept(ticket_id, PM_WORKER)
    app.intake.flows.resolve(ticket_id, PM_WORKER, resolution="已换灯泡")
    # What retrieval learns of the resolved ticket carries no phone.
    learned = app.intake.learning.pending_case_sync(ticket_id)
    assert learned is not None
    assert learned.case is not None
    assert MOBILE not in repr(learned)
    app.intake.flows.rate(ticket_id, resident_id="openid-r1", score=5)
    app.intake.clock.now = T0 + timedelta(days=31)
    assert RetentionSweep(app.intake.context).anonymize_expired() == 1
    assert stored_phone(app.intake.database, ticket_id) == ""


def test_exports_and_webhooks_never_carry_the_phone(app: App) -> None:
    submit(app)
    for path in ("/v1/tickets/export.csv", "/v1/tickets/export.xlsx", "/v1/inbox/export.csv", "/v1/inbox/export.xlsx"):
        reply = app.client.get(path, headers=PM)
        assert reply.status_code == 200, reply.text
        content = reply.content
        if path.endswith(".xlsx"):  # a zip: search the sheets' XML, not the compressed bytes
            with zipfile.ZipFile(io.BytesIO(content)) as workbook:
                content = b"".join(workbook.read(name) for name in workbook.namelist())
        assert "楼道".encode() in content  # the ticket is in it
        assert MOBILE.encode() not in content
        assert b"138****" not in content  # not masked either
    for event in app.intake.notifier.events:
        assert MOBILE not in repr(event)
