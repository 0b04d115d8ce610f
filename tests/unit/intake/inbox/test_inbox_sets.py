"""GET /v1/inbox: each set holds exactly its tickets (old open ones beyond the newest hundred included), in each
order, page after page by cursor, within the caller's scope."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.intake.tickets.models import OPEN_STATUSES
from tests.tokens import as_resident, as_worker, bearer
from tests.unit.intake.fakes import Intake
from tests.unit.intake.inbox.rows import (
    DISPATCHER,
    HENGKANG,
    MEILIN,
    PM_MEILIN,
    SO,
    T0,
    all_pages,
    insert_rows,
    ticket_row,
)

pytest_plugins = ["tests.unit.intake.database"]

OPEN = {status.value for status in OPEN_STATUSES}
CYCLE = ("routed", "accepted", "in_progress", "transferred", "reopened", "waiting_resident", "resolved", "closed")


def crowd() -> list[dict[str, Any]]:
    """140 old tickets of the property manager in 恒康 over every status, 120 newer resolved ones (so a listing of the
    newest hundred holds no open ticket at all), and others' tickets."""
    rows = []
    for number in range(140):
        rows.append(
            ticket_row(
                f"old{number:03d}",
                status=CYCLE[number % len(CYCLE)],
                assignee=("", "w-7", "w-8")[number % 3],
                due_hours=None if number % 11 == 0 else (number * 7) % 90 - 30.5,
                created_days_ago=200 - number,
                priority=1 + number % 4,
                urgency=("normal", "urgent")[number % 2],
                building=("3号楼", "5号楼")[number % 2],
            )
        )
    rows += [ticket_row(f"new{n:03d}", status="resolved", created_days_ago=n / 100) for n in range(120)]
    rows += [
        ticket_row("so-open", party="street_office"),
        ticket_row("meilin-open", community=MEILIN),
        ticket_row("manual", status="needs_manual", party=""),
        ticket_row("merged", status="merged", primary_id="old001"),
    ]
    return rows


def expected(rows: list[dict[str, Any]], inbox_set: str, worker_id: str = "w-7") -> list[dict[str, Any]]:
    mine = [r for r in rows if r["party"] == "property_manager" and r["community"] == HENGKANG]
    waiting_too = OPEN | {"waiting_resident"}
    chosen = {
        "all_open": [r for r in mine if r["status"] in waiting_too],
        "mine": [r for r in mine if r["status"] in waiting_too and r["assignee_worker_id"] == worker_id],
        "overdue": [r for r in mine if r["status"] in OPEN and r["sla_due_at"] and r["sla_due_at"] < T0],
        "waiting_resident": [r for r in mine if r["status"] == "waiting_resident"],
        "unassigned": [r for r in mine if r["status"] in OPEN and not r["assignee_worker_id"]],
    }
    return chosen[inbox_set]


def by_deadline(row: dict[str, Any]) -> tuple[bool, datetime, str]:
    return (row["sla_due_at"] is None, row["sla_due_at"] or T0, row["id"])


def ordered(rows: list[dict[str, Any]], sort: str) -> list[str]:
    if sort == "deadline":
        return [r["id"] for r in sorted(rows, key=by_deadline)]
    if sort == "priority":
        return [r["id"] for r in sorted(rows, key=lambda r: (-r["priority"], *by_deadline(r)))]
    return [r["id"] for r in sorted(rows, key=lambda r: (r["created_at"], r["id"]), reverse=True)]


@pytest.mark.parametrize("inbox_set", ["all_open", "mine", "overdue", "waiting_resident", "unassigned"])
def test_each_set_holds_exactly_its_tickets_in_deadline_order(
    client: TestClient, intake: Intake, inbox_set: str
) -> None:
    rows = crowd()
    insert_rows(intake.database, rows)
    want = ordered(expected(rows, inbox_set), "deadline")
    assert want, "every set has tickets in this crowd"
    assert all_pages(client, set=inbox_set) == want
    first = client.get("/v1/inbox", params={"set": inbox_set, "page_size": "5"}).json()
    assert first["total"] == len(want)
    assert (
        client.get("/v1/inbox", params={"set": inbox_set, "page_token": first["next_page_token"]}).json()["total"]
        is None
    )


def test_the_old_console_listing_would_have_missed_them(client: TestClient, intake: Intake) -> None:
    insert_rows(intake.database, crowd())
    newest = client.get("/v1/tickets", params={"page_size": "100"}).json()["tickets"]
    assert not [t for t in newest if t["status"] in OPEN]
    assert len(all_pages(client, set="all_open")) == len(expected(crowd(), "all_open")) > 0


@pytest.mark.parametrize("sort", ["deadline", "priority", "newest"])
def test_every_sort_pages_through_the_whole_set_in_order(client: TestClient, intake: Intake, sort: str) -> None:
    rows = crowd()
    insert_rows(intake.database, rows)
    assert all_pages(client, page_size=9, set="all_open", sort=sort) == ordered(expected(rows, "all_open"), sort)


def test_filters_narrow_the_set(client: TestClient, intake: Intake) -> None:
    rows = crowd()
    insert_rows(intake.database, rows)
    open_rows = expected(rows, "all_open")
    urgent_5 = [r for r in open_rows if r["urgency"] == "urgent" and r["building"] == "5号楼"]
    got = all_pages(client, set="all_open", urgency="urgent", building="5号楼", community=HENGKANG)
    assert got
    assert got == ordered(urgent_5, "deadline")
    assert all_pages(client, set="all_open", escalation_level="street") == []


def test_paging_survives_inserts_without_duplicates_or_gaps(client: TestClient, intake: Intake) -> None:
    rows = [ticket_row(f"t{n:03d}", due_hours=float(n)) for n in range(60)]
    insert_rows(intake.database, rows)
    first = client.get("/v1/inbox", params={"page_size": "20"}).json()
    seen = [t["id"] for t in first["tickets"]]
    # Arriving meanwhile: one due before the cursor (the next pages rightly skip it), one after, one without deadline.
    insert_rows(
        intake.database,
        [ticket_row("early", due_hours=0.5), ticket_row("late", due_hours=30.5), ticket_row("nodue", due_hours=None)],
    )
    token = first["next_page_token"]
    while token:
        page = client.get("/v1/inbox", params={"page_size": "20", "page_token": token}).json()
        seen += [t["id"] for t in page["tickets"]]
        token = page["next_page_token"]
    assert len(seen) == len(set(seen))
    assert set(seen) == {r["id"] for r in rows} | {"late", "nodue"}
    assert seen[-1] == "nodue"


def test_others_tickets_are_never_in_a_set(client: TestClient, intake: Intake) -> None:
    insert_rows(intake.database, crowd())
    so = all_pages(TestClient(client.app, headers=SO), set="all_open")
    assert so == ["so-open"]
    meilin = all_pages(TestClient(client.app, headers=PM_MEILIN), set="all_open")
    assert meilin == ["meilin-open"]
    dispatcher = all_pages(TestClient(client.app, headers=DISPATCHER), set="all_open")
    assert sorted(dispatcher) == ["manual", "so-open"]  # the manual queue, and the street office's own


@pytest.mark.parametrize(
    ("headers", "params", "status"),
    [
        (as_resident("r-old001"), {}, 403),
        (as_worker("w-7", "property_manager", HENGKANG), {"community": MEILIN}, 403),
        (bearer("not-a-token"), {}, 401),
        (as_worker("w-7", "property_manager", HENGKANG), {"set": "everything"}, 422),
        (as_worker("w-7", "property_manager", HENGKANG), {"sort": "random"}, 422),
        (as_worker("w-7", "property_manager", HENGKANG), {"page_size": "101"}, 422),
        (as_worker("w-7", "property_manager", HENGKANG), {"page_size": "0"}, 422),
        (as_worker("w-7", "property_manager", HENGKANG), {"urgency": "whenever"}, 422),
        (as_worker("w-7", "property_manager", HENGKANG), {"page_token": "not a token"}, 400),
        (as_worker("w-7", "property_manager", HENGKANG), {"page_token": "W10"}, 400),  # "[]"
        (as_worker("w-7", "property_manager", HENGKANG), {"page_token": "%00" * 20}, 400),
        (as_worker("w-7", "property_manager", HENGKANG), {"page_token": "x" * 600}, 422),
    ],
)
def test_hostile_requests_are_refused(
    client: TestClient, intake: Intake, headers: dict[str, str], params: dict[str, str], status: int
) -> None:
    insert_rows(intake.database, crowd())
    reply = client.get("/v1/inbox", params=params, headers=headers)
    assert reply.status_code == status, reply.text
    assert "error" in reply.json()


def test_a_token_of_another_sort_is_400(client: TestClient, intake: Intake) -> None:
    insert_rows(intake.database, crowd())
    token = client.get("/v1/inbox", params={"sort": "priority", "page_size": "3"}).json()["next_page_token"]
    assert client.get("/v1/inbox", params={"sort": "priority", "page_token": token}).status_code == 200
    reply = client.get("/v1/inbox", params={"sort": "deadline", "page_token": token})
    assert reply.status_code == 400
    assert reply.json()["error"]["fields"][0]["field"] == "page_token"
