"""The retention sweep (residents/retention.py, run by beat's sweeps): tickets closed past the retention period are
anonymized one by one, and 0 days keeps them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.intake.database import Database
from services.intake.metrics import WORKER_REGISTRY
from services.intake.settings import IntakeSettings
from services.intake.tickets.context import LifecyclePolicy
from services.intake.tickets.models import TicketStatus
from services.intake.tickets.validation import Submission
from tests.unit.intake.fakes import PROPERTY, Intake, decision

# Provides the `ticket_database` fixture (SQLite and PostgreSQL).
pytest_plugins = ["tests.unit.intake.database"]

COMPLAINT = Submission(text="小区北门的路灯坏了一周了", community="恒康居民区", resident_id="r-1")


def closed_ticket(intake: Intake, text: str, *, resident_id: str = "r-1") -> str:
    """A ticket the resident rated well just now, with a point and a photo."""
    submission = Submission(
        text=text,
        community="恒康居民区",
        resident_id=resident_id,
        latitude=31.2304,
        longitude=121.4737,
        attachment_urls=("https://img.example.com/a.jpg",),
    )
    ticket_id = intake.flows.submit(submission)[0].ticket.id
    intake.triage.record_triage(ticket_id, decision())
    intake.flows.accept(ticket_id, PROPERTY)
    intake.flows.resolve(ticket_id, PROPERTY, resolution="已修好")
    intake.flows.rate(ticket_id, resident_id=resident_id, score=5, comment="谢谢,有事打13812345678")
    return ticket_id


def test_tickets_closed_past_the_retention_period_are_anonymized(ticket_database: Database) -> None:
    intake = Intake(ticket_database, policy=LifecyclePolicy(personal_data_retention=timedelta(days=180)))
    old = closed_ticket(intake, "楼道灯坏了,电话13812345678")
    intake.clock.now += timedelta(days=100)
    recent = closed_ticket(intake, "电梯异响")
    still_open = intake.flows.submit(COMPLAINT)[0].ticket.id
    intake.queue.case_sync.clear()
    intake.clock.now += timedelta(days=79)
    assert intake.sweeps.anonymize_expired() == 0  # 179 days: not yet

    intake.clock.now += timedelta(days=1, minutes=1)
    counted = WORKER_REGISTRY.get_sample_value("linli_intake_tickets_anonymized_total") or 0.0
    assert intake.sweeps.anonymize_expired() == 1
    assert WORKER_REGISTRY.get_sample_value("linli_intake_tickets_anonymized_total") == counted + 1

    anonymized = intake.flows.get(old).ticket
    assert anonymized.resident_id.startswith("erased:")
    assert (anonymized.text, anonymized.latitude, anonymized.longitude, anonymized.attachment_urls) == (
        "楼道灯坏了,电话[手机号]",
        None,
        None,
        [],
    )
    assert "resident:r-1" not in [event.actor for event in anonymized.events]
    assert "13812345678" not in " ".join(event.note for event in anonymized.events)
    assert (anonymized.status, anonymized.events[-1].kind) == (TicketStatus.CLOSED, "personal_data_erased")
    assert intake.queue.case_sync == [old]  # retrieval re-learns the case from the scrubbed text
    # The resident's other tickets keep their id: nobody asked for erasure, only this ticket's time ran out.
    assert intake.flows.get(recent).ticket.resident_id == "r-1"
    assert intake.flows.get(still_open).ticket.resident_id == "r-1"
    assert intake.sweeps.anonymize_expired() == 0  # anonymized once
    intake.clock.now += timedelta(days=100)
    assert intake.sweeps.anonymize_expired() == 1  # now the recent one's turn
    assert intake.flows.get(recent).ticket.resident_id not in ("r-1", anonymized.resident_id)
    assert intake.flows.get(still_open).ticket.resident_id == "r-1"  # open: still the resident's to follow


def test_without_a_retention_period_nothing_is_anonymized(ticket_database: Database) -> None:
    intake = Intake(ticket_database)
    ticket_id = closed_ticket(intake, "楼道灯坏了")
    intake.clock.now += timedelta(days=3650)
    assert intake.sweeps.anonymize_expired() == 0
    assert intake.flows.get(ticket_id).ticket.resident_id == "r-1"


def test_the_retention_setting_is_days_and_0_keeps(monkeypatch: pytest.MonkeyPatch) -> None:
    assert LifecyclePolicy.from_settings(IntakeSettings()).personal_data_retention is None
    monkeypatch.setenv("LINLI_INTAKE_PERSONAL_DATA_RETENTION_DAYS", "365")
    assert LifecyclePolicy.from_settings(IntakeSettings()).personal_data_retention == timedelta(days=365)
    monkeypatch.setenv("LINLI_INTAKE_PERSONAL_DATA_RETENTION_DAYS", "-1")
    with pytest.raises(ValueError, match="personal_data_retention_days"):
        IntakeSettings()
