"""GET requests over many tickets: jurisdiction, dates, status and service are filtered in SQL, so 20,000 tickets in
the range give exactly the matching ones, page after page; on PostgreSQL the filtered query reads an index."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert

from linli.catalog import load_catalog
from services.intake.database import Database
from services.intake.open311 import repository
from services.intake.open311.flows import Open311, Open311Config
from services.intake.open311.presenting import Presenter
from services.intake.tickets.models import Ticket
from tests.unit.intake.fakes import Intake

# Provides the `ticket_database` fixture (SQLite and PostgreSQL).
pytest_plugins = ["tests.unit.intake.database"]

TICKETS = 20_000
PAGE_SIZE = 200
NOW = datetime.now(UTC)
COMMUNITIES = ("恒康居民区", "梅林小区", "翠湖苑", "光明里")
STATUSES = ("received", "routed", "resolved", "closed", "in_progress", "merged")
KEYS = {"hengkang-key": "hengkang-app"}
JURISDICTION = {"hengkang-app": frozenset({"恒康居民区"})}
LIFT_TAG = f"【{load_catalog().get('lift_breakdown').name}】"  # what a request filed under the service opens with


def ticket_row(number: int, primary_ids: tuple[str, str]) -> dict[str, Any]:
    """Ticket `number`: spread over communities, statuses and services, a second apart within the last 50 days;
    a merged one joins a closed or an open primary; a third of the lift tickets carry the service tag instead."""
    status = STATUSES[number % len(STATUSES)]
    service = ("lift_breakdown", "stairwell_light_broken", "")[number % 3]
    tagged = service == "lift_breakdown" and number % 9 == 0
    created = NOW - timedelta(days=50) + timedelta(seconds=number * 200)
    return {
        "id": f"t{number:06d}",
        "text": (LIFT_TAG if tagged else "") + f"第{number}号问题,请尽快处理",
        "community": COMMUNITIES[(number // 7) % len(COMMUNITIES)],  # across statuses and services alike
        "resident_id": f"r{number}",
        "status": status,
        "catalog_entry": "" if tagged else service,
        "primary_id": primary_ids[number % 2] if status == "merged" else None,
        "created_at": created,
        "updated_at": created,
    }


def expected_ids(rows: list[dict[str, Any]], primary_statuses: dict[str, str]) -> list[str]:
    """Closed lift requests of 恒康居民区, by the spec's rules, newest first."""

    def closed(row: dict[str, Any]) -> bool:
        status = primary_statuses[row["primary_id"]] if row["status"] == "merged" else row["status"]
        return status in ("resolved", "closed")

    def lift(row: dict[str, Any]) -> bool:
        return bool(row["text"].startswith(LIFT_TAG) or row["catalog_entry"] == "lift_breakdown")

    matching = [r for r in rows if r["community"] == "恒康居民区" and closed(r) and lift(r)]
    return [r["id"] for r in sorted(matching, key=lambda r: (r["created_at"], r["id"]), reverse=True)]


@pytest.fixture
def crowded(ticket_database: Database) -> tuple[Database, list[str]]:
    """20,000 tickets in range (bulk-inserted) and the ids a closed-lift search of 恒康居民区 must return."""
    earlier = NOW - timedelta(days=200)  # the primaries lie outside the range
    primaries = [
        {**ticket_row(0, ("", "")), "id": "p-closed", "status": "closed", "created_at": earlier},
        {**ticket_row(0, ("", "")), "id": "p-open", "status": "routed", "created_at": earlier},
    ]
    rows = [ticket_row(number, ("p-closed", "p-open")) for number in range(1, TICKETS + 1)]
    with ticket_database.unit_of_work() as session:
        session.execute(insert(Ticket), primaries)
        session.execute(insert(Ticket), rows)
    return ticket_database, expected_ids(rows, {"p-closed": "closed", "p-open": "routed"})


def test_twenty_thousand_tickets_give_exactly_the_matching_ones(crowded: tuple[Database, list[str]]) -> None:
    database, expected = crowded
    assert len(expected) > 3 * PAGE_SIZE  # several pages
    open311 = Open311(
        Intake(database).flows, database, load_catalog(), Open311Config(KEYS, frozenset(COMMUNITIES), JURISDICTION)
    )
    found: list[str] = []
    for page in range(1, TICKETS // PAGE_SIZE):
        params = {
            "api_key": "hengkang-key",
            "status": "closed",
            "service_code": "lift_breakdown",
            "page": str(page),
            "page_size": str(PAGE_SIZE),
        }
        answered = open311.search(params)
        found.extend(request["service_request_id"] for request in answered)
        assert all((r["status"], r["service_code"]) == ("closed", "lift_breakdown") for r in answered)
        if len(answered) < PAGE_SIZE:
            break
    assert found == expected


def test_the_filtered_search_reads_an_index_on_postgresql(crowded: tuple[Database, list[str]]) -> None:
    database, _ = crowded
    if database.engine.dialect.name != "postgresql":
        pytest.skip("EXPLAIN's plan is PostgreSQL's")
    search = repository.TicketSearch(
        start=NOW - timedelta(days=90),
        end=NOW,
        communities=frozenset({"恒康居民区"}),
        statuses=frozenset({"closed"}),
        services=Presenter(load_catalog()).service_tags({"lift_breakdown"}),
        offset=0,
        limit=1000,
    )
    statement = repository.search_statement(search).compile(
        dialect=database.engine.dialect, compile_kwargs={"render_postcompile": True}
    )
    with database.engine.connect() as connection:
        connection.exec_driver_sql("ANALYZE tickets")
        plan = "\n".join(row[0] for row in connection.exec_driver_sql(f"EXPLAIN {statement.string}", statement.params))
    assert "Index" in plan, plan
    assert "Seq Scan on tickets" not in plan, plan
