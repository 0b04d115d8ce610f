"""An intake HTTP app whose logins and admin API write and read a real audit log (SQLite)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from services.intake.audit.flows import AuditLog, Pseudonyms
from services.intake.audit.models import AuditEvent
from services.intake.database import Database
from tests.unit.intake.auth.test_sms_login import RecordingProvider
from tests.unit.intake.auth.test_web_logins import app_client, security_with_logins

PSEUDONYM_KEY = b"k" * 32


class Wall:
    """A clock the tests move by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def wall() -> Wall:
    return Wall()


@pytest.fixture
def database(tmp_path: Path) -> Database:
    return Database(f"sqlite:///{tmp_path / 'tickets.sqlite'}")


@pytest.fixture
def audit(database: Database, wall: Wall) -> AuditLog:
    return AuditLog(database, Pseudonyms(lambda: PSEUDONYM_KEY), clock=wall)


@pytest.fixture
def provider() -> RecordingProvider:
    return RecordingProvider()


@pytest.fixture
def client(database: Database, audit: AuditLog, provider: RecordingProvider) -> Iterator[TestClient]:
    security = dataclasses.replace(security_with_logins(database, provider), audit=audit)
    yield from app_client(database, security)


def stored_events(database: Database) -> list[AuditEvent]:
    """Every row of audit_events, oldest first."""
    with database.unit_of_work() as session:
        return list(session.scalars(select(AuditEvent).order_by(AuditEvent.at, AuditEvent.id)))


def table_text(database: Database) -> str:
    """Everything audit_events holds, as one string (to prove what is not in it)."""
    return "\n".join(
        " ".join((e.id, e.at.isoformat(), e.actor, e.action, e.subject, e.detail, e.ip))
        for e in stored_events(database)
    )
