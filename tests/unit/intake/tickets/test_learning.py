"""The learning loop in the store: scrubbed cases to sync, corrections to export, and the transfer report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.cli.main import main as linli
from services.intake.database import Database, head_revision
from services.intake.tickets.learning import SyncAction, case_id
from services.intake.tickets.validation import Submission
from tests.unit.intake.fakes import (
    OWNERS,
    PROPERTY,
    STREET,
    Intake,
    decision,
)

# Provides the `ticket_database` fixture (SQLite and PostgreSQL).
pytest_plugins = ["tests.unit.intake.database"]

WITH_PHONE = Submission(
    text="3号楼楼道灯坏了,我叫王建国,电话13812345678,请尽快来修",
    community="恒康居民区",
    resident_id="r-1",
    building="3号楼",
)


@pytest.fixture
def intake(ticket_database: Database) -> Intake:
    return Intake(ticket_database)


def resolved(intake: Intake, submission: Submission = WITH_PHONE, entry: str = "stairwell_light_broken") -> str:
    ticket_id = intake.flows.submit(submission)[0].ticket.id
    intake.triage.record_triage(ticket_id, decision(entry_id=entry))
    intake.flows.accept(ticket_id, PROPERTY)
    intake.flows.resolve(ticket_id, PROPERTY, resolution="电工已更换灯泡,已电话13812345678回访")
    return ticket_id


def test_a_resolved_ticket_becomes_a_scrubbed_case(intake: Intake) -> None:
    ticket_id = resolved(intake)
    sync = intake.learning.pending_case_sync(ticket_id)
    assert sync is not None
    assert sync.action is SyncAction.UPSERT
    assert sync.case is not None
    case = sync.case
    assert case.id == case_id(ticket_id)
    assert "13812345678" not in case.complaint + case.resolution
    assert "王建国" not in case.complaint
    assert (case.party, case.category, case.community, case.building) == (
        "property_manager",
        "stairwell_light_broken",
        "恒康居民区",
        "3号楼",
    )
    assert case.resolved_at is not None
    assert intake.learning.mark_case_synced(ticket_id, sync.version)
    assert intake.learning.pending_case_sync(ticket_id) is None


def test_a_reopened_ticket_is_forgotten_and_a_stale_sync_does_not_clear_the_flag(intake: Intake) -> None:
    ticket_id = resolved(intake)
    learned = intake.learning.pending_case_sync(ticket_id)
    assert learned is not None
    intake.flows.rate(ticket_id, resident_id="r-1", score=2)
    assert not intake.learning.mark_case_synced(ticket_id, learned.version)  # the ticket changed since
    forget = intake.learning.pending_case_sync(ticket_id)
    assert forget is not None
    assert (forget.action, forget.case_id) == (SyncAction.DELETE, case_id(ticket_id))


def test_corrections_keep_the_routers_party_and_where_workers_left_it(intake: Intake) -> None:
    chain = intake.flows.submit(WITH_PHONE)[0].ticket.id
    intake.triage.record_triage(chain, decision("property_manager"))
    intake.flows.transfer(chain, PROPERTY, to_party="owners_committee", reason="属于业委会")
    intake.flows.transfer(chain, OWNERS, to_party="street_office", reason="市政设施归街道")
    back_and_forth = intake.flows.submit(Submission(**{**WITH_PHONE.__dict__, "text": "楼道堆满杂物"}))[0].ticket.id
    intake.triage.record_triage(back_and_forth, decision("property_manager"))
    intake.flows.transfer(back_and_forth, PROPERTY, to_party="street_office", reason="不归物业")
    intake.flows.transfer(back_and_forth, STREET, to_party="property_manager", reason="归物业")
    lines = intake.learning.corrections()
    assert len(lines) == 1
    assert (lines[0]["from"], lines[0]["to"]) == ("property_manager", "street_office")
    assert "13812345678" not in lines[0]["text"]


def test_transfer_rates_by_party_and_catalog_entry(intake: Intake) -> None:
    moved = resolved(intake)
    resolved(intake, Submission(**{**WITH_PHONE.__dict__, "text": "单元门坏了"}), entry="unit_door_broken")
    other = intake.flows.submit(Submission(**{**WITH_PHONE.__dict__, "text": "路边违章搭建"}))[0].ticket.id
    intake.triage.record_triage(other, decision("street_office"))
    intake.flows.transfer(other, STREET, to_party="property_manager", reason="小区内部道路归物业")
    manual = intake.flows.submit(Submission(**{**WITH_PHONE.__dict__, "text": "说不清归谁"}))[0].ticket.id
    intake.triage.record_triage(manual, decision(abstained=True))
    by_party, by_entry = intake.learning.transfer_rates()
    assert {(r.key, r.routed, r.transferred) for r in by_party} == {("property_manager", 2, 0), ("street_office", 1, 1)}
    assert {(r.key, r.routed, r.transferred) for r in by_entry} == {
        ("stairwell_light_broken", 1, 0),
        ("unit_door_broken", 1, 0),
        ("(none)", 1, 1),
    }
    assert moved


def test_the_commands_export_corrections_and_report_rates(
    intake: Intake, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LINLI_INTAKE_DATABASE_URL", intake.database.engine.url.render_as_string(hide_password=False))
    ticket_id = intake.flows.submit(WITH_PHONE)[0].ticket.id
    intake.triage.record_triage(ticket_id, decision("property_manager", entry_id="stairwell_light_broken"))
    intake.flows.transfer(ticket_id, PROPERTY, to_party="street_office", reason="市政路灯归街道")
    out = tmp_path / "corrections.jsonl"
    assert linli(["corrections", "export", "--out", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(row["from"], row["to"]) for row in rows] == [("property_manager", "street_office")]
    assert set(rows[0]) == {"text", "from", "to"}
    assert linli(["report", "transfers"]) == 0
    report = capsys.readouterr().out
    assert "stairwell_light_broken" in report
    assert "100.0%" in report
    assert linli(["db", "upgrade"]) == 0
    assert f"revision {head_revision()}" in capsys.readouterr().out
