"""GET /v1/inbox/export.{csv,xlsx}: an inbox view (set, sort, filters) exported whole, in its order, holding exactly
the tickets its pages show; within the caller's scope, capped, and recorded by the audit log (read back as an
admin)."""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import timedelta
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient

from services.intake.audit.flows import AuditLog, Pseudonyms
from services.intake.dashboards.flows import DashboardFlows
from services.intake.database import Database
from services.intake.exports.flows import ExportFlows
from services.intake.exports.models import MAX_EXPORT_ROWS
from tests.tokens import as_resident, as_worker
from tests.unit.intake.dashboards.timeline import StillClock
from tests.unit.intake.fakes import Intake, audited_http_app
from tests.unit.intake.inbox.rows import (
    DISPATCHER,
    HENGKANG,
    MEILIN,
    PM,
    PM_MEILIN,
    T0,
    all_pages,
    insert_rows,
    ticket_row,
)

pytest_plugins = ["tests.unit.intake.database"]

ADMIN = as_worker("a-1", "street_office", role="admin")
CYCLE = ("routed", "accepted", "in_progress", "transferred", "reopened", "waiting_resident", "resolved", "closed")


def crowd() -> list[dict[str, Any]]:
    """90 tickets of the property manager in 恒康 over every status, assignee, deadline (some overdue, some none),
    priority, urgency and building; and others' tickets, which no export of w-7 may hold."""
    rows = [
        ticket_row(
            f"t{number:03d}",
            status=CYCLE[number % len(CYCLE)],
            assignee=("", "w-7", "w-8")[number % 3],
            due_hours=None if number % 11 == 0 else (number * 7) % 90 - 30.5,
            created_days_ago=100 - number,
            priority=1 + number % 4,
            urgency=("normal", "urgent")[number % 2],
            building=("3号楼", "5号楼")[number % 2],
            text=f"第{number}号:楼道灯坏了" if number != 5 else "=HYPERLINK(1) 电话13812345678",
        )
        for number in range(90)
    ]
    others = [
        ticket_row("so-open", party="street_office"),
        ticket_row("meilin-open", community=MEILIN),
        ticket_row("manual", status="needs_manual", party=""),
    ]
    return [*rows, *others]


@dataclasses.dataclass
class Setup:
    client: TestClient
    clock: StillClock


def make_setup(database: Database, *, max_rows: int = MAX_EXPORT_ROWS) -> Setup:
    """The real HTTP app over a crowd of tickets, its exports recorded by a real audit log (GET /v1/audit)."""
    insert_rows(database, crowd())
    clock = StillClock(T0)
    intake = Intake(database, clock=clock)
    audit = AuditLog(database, Pseudonyms(lambda: b"k" * 32), clock=intake.clock)
    exports = ExportFlows(
        database,
        DashboardFlows(database),
        on_export=audit.export_recorder(),
        max_rows=max_rows,
        clock=intake.clock,
    )
    return Setup(TestClient(audited_http_app(intake, audit, exports=exports), headers=PM), clock)


@pytest.fixture
def setup(ticket_database: Database) -> Setup:
    return make_setup(ticket_database)


def csv_rows(content: bytes) -> list[list[str]]:
    assert content.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def xlsx_rows(content: bytes) -> list[tuple[Any, ...]]:
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    assert sheet is not None
    return list(sheet.iter_rows(values_only=True))


VIEWS = [
    {"set": "all_open", "sort": "deadline"},
    {"set": "all_open", "sort": "priority", "urgency": "urgent"},
    {"set": "mine", "sort": "newest"},
    {"set": "overdue", "sort": "deadline"},
    {"set": "waiting_resident", "sort": "priority"},
    {"set": "unassigned", "sort": "newest", "building": "5号楼"},
    {"set": "overdue", "sort": "priority", "community": HENGKANG, "urgency": "normal"},
]


@pytest.mark.parametrize("view", VIEWS, ids=lambda view: "-".join(view.values()))
def test_the_export_holds_exactly_the_views_pages_in_their_order(setup: Setup, view: dict[str, str]) -> None:
    paged = all_pages(setup.client, page_size=7, **view)
    assert paged, "every view of the crowd holds tickets"
    as_csv = setup.client.get("/v1/inbox/export.csv", params=view)
    assert as_csv.status_code == 200, as_csv.text
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert f'filename="inbox-{view["set"]}.csv"' in as_csv.headers["content-disposition"]
    header, *rows = csv_rows(as_csv.content)
    assert header[:3] == ["工单编号", "收到时间", "小区"]
    assert [row[0] for row in rows] == paged
    as_xlsx = setup.client.get("/v1/inbox/export.xlsx", params=view)
    assert as_xlsx.status_code == 200, as_xlsx.text
    xlsx_header, *sheet_rows = xlsx_rows(as_xlsx.content)
    assert list(xlsx_header) == header
    assert [row[0] for row in sheet_rows] == paged


def test_all_open_exports_no_closed_ticket_and_no_personal_data(setup: Setup) -> None:
    content = setup.client.get("/v1/inbox/export.csv", params={"set": "all_open"}).content
    _, *rows = csv_rows(content)
    assert {row[4] for row in rows} <= {"已分派", "已受理", "处理中", "已转派", "重新办理", "待居民答复"}
    assert {row[5] for row in rows} == {"property_manager"}
    assert {row[2] for row in rows} == {HENGKANG}
    text = content.decode("utf-8-sig")
    assert "r-t0" not in text  # no resident id
    assert "13812345678" not in text  # scrubbed as in every export
    hostile = next(row for row in rows if row[0] == "t005")
    assert hostile[11].startswith("'=")


def test_a_dispatcher_exports_the_manual_queue_as_the_pages_show_it(setup: Setup) -> None:
    dispatcher_pages: list[str] = []
    token = ""
    while True:
        page = setup.client.get("/v1/inbox", params={"set": "all_open", "page_token": token}, headers=DISPATCHER)
        dispatcher_pages += [ticket["id"] for ticket in page.json()["tickets"]]
        token = page.json()["next_page_token"]
        if not token:
            break
    exported = setup.client.get("/v1/inbox/export.csv", params={"set": "all_open"}, headers=DISPATCHER)
    assert [row[0] for row in csv_rows(exported.content)[1:]] == dispatcher_pages
    assert "manual" in dispatcher_pages  # the manual queue is a dispatcher's too
    assert "so-open" in dispatcher_pages


@pytest.mark.parametrize(
    ("headers", "params", "status"),
    [
        (as_resident("r-t001"), {}, 403),
        (PM, {"community": MEILIN}, 403),
        (PM, {"set": "everything"}, 422),
        (PM, {"sort": "oldest"}, 422),
        (PM, {"building": "楼" * 65}, 422),
        ({"Authorization": ""}, {}, 401),
    ],
    ids=["resident", "unserved-community", "bad-set", "bad-sort", "long-building", "no-token"],
)
def test_inbox_exports_stay_within_the_callers_view(
    setup: Setup, headers: dict[str, str], params: dict[str, str], status: int
) -> None:
    for extension in ("csv", "xlsx"):
        reply = setup.client.get(f"/v1/inbox/export.{extension}", params=params, headers=headers)
        assert reply.status_code == status, reply.text


def test_another_communitys_worker_exports_only_theirs(setup: Setup) -> None:
    reply = setup.client.get("/v1/inbox/export.csv", params={"set": "all_open"}, headers=PM_MEILIN)
    assert [row[0] for row in csv_rows(reply.content)[1:]] == ["meilin-open"]


def test_a_view_over_the_cap_is_413_and_not_recorded(ticket_database: Database) -> None:
    setup = make_setup(ticket_database, max_rows=15)
    for extension in ("csv", "xlsx"):
        reply = setup.client.get(f"/v1/inbox/export.{extension}", params={"set": "all_open"})
        assert reply.status_code == 413
        assert "缩小筛选范围" in reply.json()["error"]["message"]
    assert setup.client.get("/v1/audit", params={"action": "export"}, headers=ADMIN).json()["events"] == []
    narrowed = setup.client.get("/v1/inbox/export.csv", params={"set": "waiting_resident"})
    assert narrowed.status_code == 200
    assert len(csv_rows(narrowed.content)) - 1 == len(all_pages(setup.client, set="waiting_resident")) == 11


def test_the_audit_log_names_the_export_its_actor_time_and_rows(setup: Setup) -> None:
    view = {"set": "overdue", "sort": "priority", "urgency": "urgent"}
    rows = csv_rows(setup.client.get("/v1/inbox/export.csv", params=view).content)[1:]
    # Later: the log reads newest first. Overdue is still as of T0's deadlines (those are x.5 hours from T0).
    setup.clock.now = T0 + timedelta(minutes=5)
    setup.client.get("/v1/inbox/export.xlsx", params={"set": "mine"})
    reply = setup.client.get("/v1/audit", params={"action": "export"}, headers=ADMIN)
    assert reply.status_code == 200, reply.text
    excel, overdue = reply.json()["events"]
    assert overdue["actor"] == "worker:w-7"
    assert overdue["at"] == T0.isoformat().replace("+00:00", "Z")
    assert overdue["subject"].startswith("inbox:overdue sort=priority party=property_manager")
    assert "urgency=urgent" in overdue["subject"]
    assert overdue["detail"] == {"what": overdue["subject"], "rows": len(rows)}
    assert excel["subject"].startswith("inbox:mine ")
    assert excel["detail"]["rows"] == len(all_pages(setup.client, set="mine"))
    # Workers do not read the log.
    assert setup.client.get("/v1/audit").status_code == 403
