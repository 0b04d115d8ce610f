"""Erasing a resident's personal data on request: every field before and after, the resident's tokens refused and
their tickets gone from their list, other residents untouched, erasing twice refused, and `linli residents erase`."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from linli.errors import NotFound
from linli.settings import AuthSettings
from linli.tokens import TokenCodec
from linli.v1 import routing_pb2
from services.cli.main import main as linli
from services.intake.auth.identity import Resident
from services.intake.auth.models import RevokedSubject
from services.intake.auth.revocations import Revocations
from services.intake.database import Database
from services.intake.http_app import create_http_app
from services.intake.metrics import API_REGISTRY
from services.intake.residents.erasure import ErasureFlows
from services.intake.tickets.models import Ticket, TicketStatus, is_erased_resident
from services.intake.tickets.repository import TicketQuery
from services.intake.tickets.validation import Submission
from services.intake.uploads.assembly import create_uploads
from services.intake.uploads.models import Upload
from services.intake.uploads.settings import UploadSettings
from tests.tokens import as_resident
from tests.unit.fakes import StepClock
from tests.unit.intake.fakes import PROPERTY, Intake, decision, embedding, face_services, http_security
from tests.unit.intake.uploads.photos import png

# Provides the `ticket_database` fixture (SQLite and PostgreSQL).
pytest_plugins = ["tests.unit.intake.database"]

OPENID = "oWx-erase-me-1"
NEIGHBOUR = "oWx-neighbour-2"
COMMUNITY = "恒康居民区"
PHONE = "13812345678"
OPERATOR = "operator:ops-1"


@pytest.fixture
def intake(ticket_database: Database) -> Intake:
    # The wall clock: the erasure's revocation must refuse tokens issued just now.
    return Intake(ticket_database, clock=StepClock(datetime.now(UTC)))


def submit(intake: Intake, resident_id: str, text: str, **extra: object) -> str:
    submission = Submission(text=text, community=COMMUNITY, resident_id=resident_id, **extra)  # type: ignore[arg-type]
    return intake.flows.submit(submission)[0].ticket.id


def resolved_and_reopened(intake: Intake) -> str:
    """The resident's ticket with a point, a photo, a quoted phone number, an other issue, and a reopen reason."""
    ticket_id = submit(
        intake,
        OPENID,
        f"3号楼的楼道灯坏了,另外门口有车停在消防通道上,联系我{PHONE}",
        latitude=31.2304,
        longitude=121.4737,
        attachment_urls=("https://img.example.com/light.jpg",),
        idempotency_key=f"{OPENID}-1",
    )
    routed = decision(entry_id="corridor_light")
    routed.other_issues.append(
        routing_pb2.OtherIssue(
            entry=routing_pb2.CatalogMatch(entry_id="fire_lane"), excerpt=f"门口有车停在消防通道上,联系我{PHONE}"
        )
    )
    intake.triage.record_triage(ticket_id, routed, embedding(1.0, 0.0))
    intake.flows.accept(ticket_id, PROPERTY)
    intake.flows.resolve(ticket_id, PROPERTY, resolution=f"已修好,已电话{PHONE}告知")
    intake.flows.reopen(ticket_id, resident_id=OPENID, reason=f"还是不亮,请打{PHONE}")
    intake.flows.accept(ticket_id, PROPERTY)
    intake.flows.resolve(ticket_id, PROPERTY, resolution="已更换灯具")
    return ticket_id


def stored(database: Database, ticket_id: str) -> Ticket:
    with database.unit_of_work() as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        return ticket


def test_every_personal_field_is_erased_and_the_case_re_sent(intake: Intake) -> None:
    ticket_id = resolved_and_reopened(intake)
    before = stored(intake.database, ticket_id)
    assert (before.resident_id, before.latitude, before.attachment_urls) == (
        OPENID,
        31.2304,
        ["https://img.example.com/light.jpg"],
    )
    assert PHONE in before.text
    assert PHONE in before.routing["other_issues"][0]["excerpt"]  # type: ignore[index]
    assert f"resident:{OPENID}" in [event.actor for event in before.events]
    assert before.embedding is not None
    intake.queue.case_sync.clear()

    report = ErasureFlows(intake.context).erase_resident(OPENID, actor=OPERATOR, reason="本人申请 #42")

    after = stored(intake.database, ticket_id)
    assert is_erased_resident(after.resident_id)
    assert after.resident_id == report.tombstone
    assert OPENID not in after.resident_id
    assert after.text == "3号楼的楼道灯坏了,另外门口有车停在消防通道上,联系我[手机号]"
    assert after.resolution == "已更换灯具"
    assert after.routing is not None
    assert after.routing["other_issues"][0]["excerpt"] == "门口有车停在消防通道上,联系我[手机号]"
    assert after.routing["other_issues"][0]["entry"]["entry_id"] == "fire_lane"
    assert (after.latitude, after.longitude, after.attachment_urls, after.idempotency_key) == (None, None, [], None)
    assert (after.embedding, after.embedding_model) == (None, "")  # resolved: never compared for duplicates again
    actors = [event.actor for event in after.events]
    assert f"resident:{OPENID}" not in actors
    assert actors.count(f"resident:{report.tombstone}") == 2  # received, reopened
    notes = " ".join(event.note for event in after.events)
    assert PHONE not in notes
    assert "还是不亮,请打[手机号]" in notes
    assert "已修好,已电话[手机号]告知" in notes
    assert (after.events[-1].kind, after.events[-1].actor) == ("personal_data_erased", OPERATOR)
    # The problem is kept: where, what, who handled it.
    assert (after.status, after.community, after.party, after.catalog_entry) == (
        TicketStatus.RESOLVED.value,
        COMMUNITY,
        "property_manager",
        "corridor_light",
    )
    assert after.case_sync_pending
    assert intake.queue.case_sync == [ticket_id]
    sync = intake.learning.pending_case_sync(ticket_id)
    assert sync is not None
    assert sync.case is not None
    assert PHONE not in sync.case.complaint
    assert (report.tickets, report.case_syncs, report.tokens_revoked) == (1, 1, True)
    assert report.events == 3  # received (actor), the first resolution (note), reopened (actor and note)


def test_all_of_the_residents_tickets_share_one_tombstone_and_open_ones_stay_open(intake: Intake) -> None:
    first = submit(intake, OPENID, "楼道灯坏了")
    second = submit(intake, OPENID, "电梯异响")
    intake.triage.record_triage(second, decision())
    neighbours = submit(intake, NEIGHBOUR, f"垃圾没人清,我电话{PHONE}", latitude=31.0, longitude=121.0)

    report = ErasureFlows(intake.context).erase_resident(OPENID, actor=OPERATOR)

    assert {stored(intake.database, first).resident_id, stored(intake.database, second).resident_id} == {
        report.tombstone
    }
    assert stored(intake.database, second).status == TicketStatus.ROUTED.value
    # Still handled, but nobody is left to message: no subscription message goes to the tombstone.
    intake.flows.accept(second, PROPERTY)
    intake.flows.resolve(second, PROPERTY, resolution="已处理")
    resolved = [event for event in intake.notifier.events if event.kind == "resolved"]
    assert [(event.ticket_id, event.resident_openid) for event in resolved] == [(second, None)]
    assert (report.tickets, report.case_syncs) == (2, 0)  # neither was resolved when erased
    untouched = stored(intake.database, neighbours)
    assert (untouched.resident_id, untouched.text, untouched.latitude) == (NEIGHBOUR, f"垃圾没人清,我电话{PHONE}", 31.0)
    assert [event.actor for event in untouched.events] == [f"resident:{NEIGHBOUR}"]
    # Two erasures never share a tombstone: different people stay different reporters.
    other = ErasureFlows(intake.context).erase_resident(NEIGHBOUR, actor=OPERATOR)
    assert other.tombstone != report.tombstone


def test_erasing_an_unknown_or_erased_resident_is_not_found(intake: Intake) -> None:
    submit(intake, OPENID, "楼道灯坏了")
    erasure = ErasureFlows(intake.context)
    with pytest.raises(NotFound):
        erasure.erase_resident("oWx-nobody", actor=OPERATOR)
    report = erasure.erase_resident(OPENID, actor=OPERATOR)
    with pytest.raises(NotFound):
        erasure.erase_resident(OPENID, actor=OPERATOR)
    with pytest.raises(NotFound):
        erasure.erase_resident(report.tombstone, actor=OPERATOR)


def test_the_residents_token_is_refused_and_their_list_is_empty(intake: Intake) -> None:
    revocations = Revocations(intake.database, refresh_seconds=60)
    security = http_security(codec=TokenCodec.from_settings(AuthSettings()), revocations=revocations)
    ready = threading.Event()
    ready.set()
    client = TestClient(
        create_http_app(
            intake.flows, security, intake.database, ready, faces=face_services(intake.flows, intake.database)
        )
    )
    resident, neighbour = as_resident(OPENID), as_resident(NEIGHBOUR)
    ticket_id = submit(intake, OPENID, "楼道灯坏了")
    submit(intake, NEIGHBOUR, "电梯异响")
    assert len(client.get("/v1/tickets", headers=resident).json()["tickets"]) == 1

    ErasureFlows(intake.context, revocations).erase_resident(OPENID, actor=OPERATOR, reason="本人申请")

    # Refused at once in this process, although its snapshot was read less than a refresh interval ago.
    refused = client.get("/v1/tickets", headers=resident)
    assert refused.status_code == 401, refused.text
    with intake.database.unit_of_work() as session:
        row = session.scalars(select(RevokedSubject)).one()
        assert (row.kind, row.subject, row.reason, row.actor) == (
            "resident",
            OPENID,
            "erased on request: 本人申请",
            OPERATOR,
        )
    # Signing in again later sees none of the erased tickets: nothing carries the openid any more.
    views, _ = intake.flows.list(TicketQuery(resident_id=OPENID))
    assert views == []
    assert stored(intake.database, ticket_id).status == TicketStatus.RECEIVED.value
    assert len(client.get("/v1/tickets", headers=neighbour).json()["tickets"]) == 1


def test_the_cli_erases_and_says_what_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'tickets.sqlite'}"
    monkeypatch.setenv("LINLI_INTAKE_DATABASE_URL", url)
    monkeypatch.setenv("LINLI_UPLOADS_FOLDER", str(tmp_path / "uploads"))
    database = Database(url)
    database.upgrade_schema()
    intake = Intake(database)
    uploads = create_uploads(intake.context, UploadSettings(folder=tmp_path / "uploads"), secrets=[b"s" * 32])
    photo = uploads.flows.upload(Resident(OPENID), png())  # not attached yet: the uploader column names them
    ticket_id = submit(intake, OPENID, f"楼道灯坏了,电话{PHONE}")
    try:
        assert linli(["residents", "erase", "--resident-id", OPENID, "--reason", "本人申请"]) == 0
        assert "1 ticket(s) and 1 event(s) changed" in capsys.readouterr().out
        assert stored(database, ticket_id).text == "楼道灯坏了,电话[手机号]"
        # The photo's files go with its row (the command used to delete the row only).
        assert [p for p in (tmp_path / "uploads").rglob("*") if p.is_file()] == []
        with database.unit_of_work() as session:
            assert session.get(Upload, photo.id) is None
        assert linli(["residents", "erase", "--resident-id", OPENID]) == 1
        assert "no personal data stored" in capsys.readouterr().err
        # Asked by phone, with a ticket number: that ticket's resident, all their tickets.
        first, second = submit(intake, NEIGHBOUR, "电梯异响"), submit(intake, NEIGHBOUR, "垃圾桶满了")
        assert linli(["residents", "erase", "--ticket-id", first]) == 0
        assert "2 ticket(s)" in capsys.readouterr().out
        assert is_erased_resident(stored(database, second).resident_id)
        assert linli(["residents", "erase", "--ticket-id", first]) == 1
        assert "erased already" in capsys.readouterr().err
        assert linli(["residents", "erase", "--ticket-id", "no-such-ticket"]) == 1
    finally:
        database.dispose()


def test_a_resident_erases_themself_with_delete_me(intake: Intake) -> None:
    revocations = Revocations(intake.database, refresh_seconds=60)
    security = http_security(codec=TokenCodec.from_settings(AuthSettings()), revocations=revocations)
    ready = threading.Event()
    ready.set()
    erasure = ErasureFlows(intake.context, revocations)
    client = TestClient(
        create_http_app(
            intake.flows, security, intake.database, ready, erasure, faces=face_services(intake.flows, intake.database)
        )
    )
    resident = as_resident(OPENID)
    ticket_id = submit(intake, OPENID, f"楼道灯坏了,电话{PHONE}")
    assert client.delete("/v1/me", headers=as_resident(NEIGHBOUR)).status_code == 404  # nothing stored about them

    counted = API_REGISTRY.get_sample_value("linli_intake_residents_erased_total") or 0.0
    erased = client.delete("/v1/me", headers=resident)

    assert erased.status_code == 200, erased.text
    assert API_REGISTRY.get_sample_value("linli_intake_residents_erased_total") == counted + 1
    assert erased.json() == {"tickets": 1, "events": 1}
    after = stored(intake.database, ticket_id)
    assert after.text == "楼道灯坏了,电话[手机号]"
    # Recorded as the resident's own act, under the tombstone: the openid is nowhere.
    assert after.events[-1].actor == f"resident:{after.resident_id}"
    assert client.delete("/v1/me", headers=resident).status_code == 401
    assert client.get("/v1/tickets", headers=resident).status_code == 401
    assert client.delete("/v1/me").status_code == 401
