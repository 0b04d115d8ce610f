"""Tickets for the inbox tests, inserted as rows (many at once), and the HTTP client over the real app."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import insert

from services.intake.database import Database
from services.intake.http_app import create_http_app
from services.intake.tickets.models import Ticket
from tests.tokens import as_worker
from tests.unit.intake.fakes import Intake, face_services, http_security

# The StepClock of the fakes starts here: deadlines before it are overdue.
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
HENGKANG, MEILIN = "恒康居民区", "梅林小区"
PM = as_worker("w-7", "property_manager", HENGKANG)
PM_COLLEAGUE = as_worker("w-8", "property_manager", HENGKANG)
PM_MEILIN = as_worker("w-9", "property_manager", MEILIN)
SO = as_worker("w-2", "street_office", HENGKANG)
DISPATCHER = as_worker("d-1", "street_office", HENGKANG, "dispatcher")


def ticket_row(
    ticket_id: str,
    *,
    status: str = "routed",
    party: str = "property_manager",
    community: str = HENGKANG,
    assignee: str = "",
    due_hours: float | None = 24.0,
    created_days_ago: float = 1.0,
    priority: int = 1,
    **more: Any,
) -> dict[str, Any]:
    """One ticket as a row: its deadline `due_hours` from T0 (None: none), created `created_days_ago` before T0."""
    created = T0 - timedelta(days=created_days_ago)
    return {
        "id": ticket_id,
        "text": f"第{ticket_id}号:楼道灯坏了",
        "community": community,
        "resident_id": f"r-{ticket_id}",
        "status": status,
        "party": party,
        "assignee_worker_id": assignee,
        "sla_due_at": None if due_hours is None else T0 + timedelta(hours=due_hours),
        "priority": priority,
        "created_at": created,
        "updated_at": created,
        **more,
    }


def insert_rows(database: Database, rows: list[dict[str, Any]]) -> None:
    """Stores the rows in one transaction."""
    with database.unit_of_work() as session:
        session.execute(insert(Ticket), rows)


def http_client(intake: Intake) -> TestClient:
    """The real HTTP app over `intake`'s flows; calls are the worker w-7's unless a test sends other headers."""
    ready = threading.Event()
    ready.set()
    app = create_http_app(
        intake.flows, http_security(), intake.database, ready, faces=face_services(intake.flows, intake.database)
    )
    return TestClient(app, headers=PM)


def all_pages(client: TestClient, page_size: int = 37, **params: str) -> list[str]:
    """The ids of every page of a set, in order, following the cursor."""
    ids: list[str] = []
    token = ""
    while True:
        reply = client.get("/v1/inbox", params={**params, "page_size": str(page_size), "page_token": token})
        assert reply.status_code == 200, reply.text
        ids.extend(ticket["id"] for ticket in reply.json()["tickets"])
        token = reply.json()["next_page_token"]
        if not token:
            return ids
