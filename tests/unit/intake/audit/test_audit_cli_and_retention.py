"""`linli token issue/revoke` record the operator and time; `linli audit list` reads the log; the retention sweep
deletes old events and keeps recent ones."""

from __future__ import annotations

import getpass
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.cli.main import main as linli
from services.intake.audit.flows import AuditLog, Pseudonyms
from services.intake.audit.models import AuditAction
from services.intake.audit.repository import AuditQuery, delete_before
from services.intake.database import Database
from services.intake.residents.retention import RetentionSweep
from services.intake.tickets.context import LifecyclePolicy
from services.intake.tickets.validation import Submission
from tests.unit.fakes import StepClock
from tests.unit.intake.audit.conftest import Wall, stored_events, table_text
from tests.unit.intake.fakes import Intake


@pytest.fixture
def configured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Database:
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    monkeypatch.setenv("LINLI_INTAKE_DATABASE_URL", url)
    return Database(url)


def test_token_issue_is_recorded_with_the_operator_and_time(
    configured: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    before = datetime.now(UTC)
    argv = ["token", "issue", "--worker-id", "w1", "--party", "property_manager", "--role", "admin"]
    assert linli(argv) == 0
    token = capsys.readouterr().out.strip()
    [event] = stored_events(configured)
    assert (event.action, event.actor, event.subject) == ("token_issued", f"operator:{getpass.getuser()}", "worker:w1")
    assert before - timedelta(seconds=1) <= event.at <= datetime.now(UTC)
    assert json.loads(event.detail)["role"] == "admin"
    assert token not in table_text(configured)


def test_a_residents_token_is_recorded_by_pseudonym_and_revocations_too(
    configured: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    assert linli(["token", "issue", "--kind", "resident", "--resident-id", "openid-secret-1"]) == 0
    assert linli(["token", "revoke", "--kind", "resident", "--subject", "openid-secret-1", "--actor", "ops:x"]) == 0
    events = stored_events(configured)
    assert [e.action for e in events] == ["token_issued", "token_revoked"]
    assert events[0].subject == events[1].subject
    assert events[0].subject.startswith("resident:rp:")
    assert events[1].actor == "ops:x"
    assert "openid-secret-1" not in table_text(configured)
    capsys.readouterr()
    assert linli(["audit", "list", "--action", "token_revoked"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == 1
    assert "token_revoked  ops:x  resident:rp:" in listed[0]
    assert linli(["audit", "list", "--action", "nonsense"]) == 2
    assert linli(["audit", "list", "--since", "last tuesday"]) == 2


def test_without_a_configured_database_the_token_is_issued_but_said_unaudited(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("LINLI_INTAKE_DATABASE_URL", raising=False)
    assert linli(["token", "issue", "--worker-id", "w1", "--party", "property_manager"]) == 0
    out, err = capsys.readouterr()
    assert out.strip()
    assert "NOT AUDITED" in err


def test_a_token_that_cannot_be_recorded_is_withheld(configured: Database, capsys: pytest.CaptureFixture[str]) -> None:
    configured.upgrade_schema()
    with configured.engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE audit_events")
    assert linli(["token", "issue", "--worker-id", "w1", "--party", "property_manager"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert "NOT AUDITED" in err


def test_a_personal_data_read_is_recorded_with_actor_time_and_field(audit: AuditLog, database: Database) -> None:
    database.upgrade_schema()
    audit.personal_data_read("worker:w1", resident_id="openid-9", fields=["phone"], ticket_id="t-1")
    [event] = stored_events(database)
    assert (event.actor, event.action, event.at) == (
        "worker:w1",
        "personal_data_read",
        datetime(2026, 12, 1, 8, tzinfo=UTC),
    )
    assert json.loads(event.detail) == {"fields": ["phone"], "ticket_id": "t-1"}
    assert event.subject == audit.pseudonyms.resident("openid-9")
    assert "openid-9" not in table_text(database)


def test_export_and_wecom_adapters_record(audit: AuditLog, database: Database) -> None:
    database.upgrade_schema()
    audit.export_recorder()("worker:w1", "tickets_xlsx", 42)
    audit.wecom_login_recorder()("w2", "10.1.1.1", True)
    audit.wecom_login_recorder()("w3", "10.1.1.2", False)
    events = sorted(stored_events(database), key=lambda e: e.action)
    assert [(e.action, e.actor, e.ip) for e in events] == [
        ("export", "worker:w1", ""),
        ("login_failed", "anonymous", "10.1.1.2"),
        ("login_wecom", "worker:w2", "10.1.1.1"),
    ]
    assert json.loads(events[0].detail) == {"rows": 42, "what": "tickets_xlsx"}


def test_the_retention_sweep_deletes_old_events_and_keeps_recent_ones(
    audit: AuditLog, database: Database, wall: Wall
) -> None:
    database.upgrade_schema()
    audit.record("worker:old", AuditAction.EXPORT)
    wall.advance(days=100)
    audit.record("worker:recent", AuditAction.EXPORT)
    wall.advance(days=80, seconds=1)  # the old one is 180 days and a second old, the recent one 80 days
    retention = LifecyclePolicy(personal_data_retention=timedelta(days=180))
    intake = Intake(database, clock=StepClock(wall.now - timedelta(seconds=1)), policy=retention)
    assert RetentionSweep(intake.context).forget_old_audit_events() == 1
    assert [e.actor for e in stored_events(database)] == ["worker:recent"]
    kept_forever = Intake(database)  # retention 0: the log is kept like the tickets
    assert RetentionSweep(kept_forever.context).forget_old_audit_events() == 0
    assert intake.sweeps.anonymize_expired() == 0  # beat's sweep runs it too


def test_on_postgresql_events_page_newest_first_and_old_ones_go(postgres_url: str) -> None:
    database = Database(postgres_url)
    try:
        database.upgrade_schema()
        wall = Wall()
        audit = AuditLog(database, Pseudonyms(lambda: b"k" * 32), clock=wall)
        for minute in range(5):
            audit.record(f"worker:w{minute}", AuditAction.EXPORT, detail={"rows": minute})
            wall.advance(minutes=1)
        first, token = audit.page(AuditQuery(page_size=3))
        rest, last = audit.page(AuditQuery(page_size=3, page_token=token))
        assert [e.actor for e in first + rest] == [f"worker:w{m}" for m in (4, 3, 2, 1, 0)]
        assert last == ""
        with database.unit_of_work() as session:
            # 08:00 and 08:01 are before 08:02; the event at 08:02 itself stays.
            assert delete_before(wall.now - timedelta(minutes=3), limit=10, session=session) == 2
        assert [e.actor for e in stored_events(database)] == ["worker:w2", "worker:w3", "worker:w4"]
    finally:
        database.dispose()


def test_an_erasure_is_recorded_under_the_tombstone(configured: Database, capsys: pytest.CaptureFixture[str]) -> None:
    configured.upgrade_schema()
    Intake(configured).flows.submit(Submission(text="楼道灯坏了", community="恒康居民区", resident_id="openid-erase"))
    assert linli(["residents", "erase", "--resident-id", "openid-erase", "--actor", "operator:dpo"]) == 0
    [event] = stored_events(configured)
    assert (event.action, event.actor, event.subject[:7]) == ("resident_erased", "operator:dpo", "erased:")
    assert json.loads(event.detail) == {"tickets": 1}
    assert "openid-erase" not in table_text(configured)
