"""On PostgreSQL every inbox page reads an index (migration 0012), not the whole tickets table."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from services.intake.database import Database
from services.intake.inbox import repository
from services.intake.inbox.models import InboxFilters, InboxQuery, InboxSet, InboxSort, Scope
from tests.unit.intake.inbox.rows import T0, insert_rows, ticket_row

pytest_plugins = ["tests.unit.intake.database"]

TICKETS = 30_000
COMMUNITIES = [f"小区{n:03d}" for n in range(200)]
PARTIES = ("property_manager", "street_office", "owners_committee", "utility", "police")
STATUSES = ("resolved", "closed", "routed", "accepted", "in_progress", "resolved", "closed", "closed", "merged")


def crowd() -> list[dict[str, Any]]:
    """Mostly finished tickets over 200 communities and five parties, as a ticket store fills up."""
    return [
        ticket_row(
            f"t{n:06d}",
            status=STATUSES[n % len(STATUSES)],
            party=PARTIES[n % len(PARTIES)],
            community=COMMUNITIES[(n // 7) % len(COMMUNITIES)],
            assignee=f"w-{n % 300}",
            due_hours=float(n % 500 - 100),
            created_days_ago=n / 100,
            priority=1 + n % 7,
        )
        for n in range(TICKETS)
    ]


@pytest.fixture
def crowded(ticket_database: Database) -> Database:
    if ticket_database.engine.dialect.name != "postgresql":
        pytest.skip("EXPLAIN's plan is PostgreSQL's")
    insert_rows(ticket_database, crowd())
    with ticket_database.engine.connect() as connection:
        connection.exec_driver_sql("ANALYZE tickets")
    return ticket_database


def plan(database: Database, query: InboxQuery) -> str:
    statement = repository.page_statement(query).compile(
        dialect=database.engine.dialect, compile_kwargs={"render_postcompile": True}
    )
    with database.engine.connect() as connection:
        rows = connection.exec_driver_sql(f"EXPLAIN {statement.string}", statement.params)
        return "\n".join(row[0] for row in rows)


COMMUNITY_WORKER = Scope("property_manager", COMMUNITIES[3], None, with_manual_queue=False)
EVERYWHERE = Scope("property_manager", None, None, with_manual_queue=False)
DISPATCHER = Scope("street_office", COMMUNITIES[3], None, with_manual_queue=True)
STREET = Scope("property_manager", None, tuple(COMMUNITIES[:12]), with_manual_queue=False)


def test_every_page_reads_an_index(crowded: Database) -> None:
    # One crowd for every combination: inserting and analysing it is the slow part.
    scopes = {"one": COMMUNITY_WORKER, "all": EVERYWHERE, "dispatcher": DISPATCHER, "street": STREET}
    scanned = []
    for inbox_set in InboxSet:
        for sort in InboxSort:
            for name, scope in scopes.items():
                query = InboxQuery(inbox_set, sort, scope, InboxFilters(), "w-7", T0 + timedelta(seconds=5), 50)
                found = plan(crowded, query)
                if "Seq Scan on tickets" in found or "Index" not in found:
                    scanned.append(f"{inbox_set}/{sort}/{name}:\n{found}")
    assert not scanned, "\n\n".join(scanned)
