"""Fixtures of the inbox tests: a migrated ticket store (SQLite and PostgreSQL), its flows and the HTTP client."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from services.intake.database import Database
from tests.unit.intake.fakes import Intake
from tests.unit.intake.inbox.rows import http_client


@pytest.fixture
def intake(ticket_database: Database) -> Intake:
    return Intake(ticket_database)


@pytest.fixture
def client(intake: Intake) -> TestClient:
    return http_client(intake)
