"""Exports over the HTTP API, read back: the tickets of a worker's view and a dashboard's figures, as CSV (with a
BOM, streamed) and Excel (real dates, Chinese headers), without personal data, capped, and told to the audit hook."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import openpyxl
import pytest

from services.intake.dashboards.models import SHANGHAI
from services.intake.database import Database
from tests.tokens import as_resident, as_worker
from tests.unit.intake.dashboards.timeline import (
    HENGKANG,
    NOW,
    T0,
    ExportLog,
    StillClock,
    Timeline,
    http_client,
    known_week,
)
from tests.unit.intake.fakes import Intake

pytest_plugins = ["tests.unit.intake.database"]

PROPERTY = as_worker("w-7", "property_manager", HENGKANG)
HOSTILE_TEXT = '=HYPERLINK("http://evil") 电话13812345678 楼道漏水'
WEEK = {"scope": f"community:{HENGKANG}", "from": "2026-01-05", "to": "2026-01-11"}


@pytest.fixture
def intake(sqlite_ticket_database: Database) -> Intake:
    intake = Intake(sqlite_ticket_database, clock=StillClock(NOW))
    known_week(intake)
    Timeline(intake).routed(T0 + timedelta(hours=5), text=HOSTILE_TEXT)
    intake.clock.now = NOW
    return intake


def csv_rows(response_bytes: bytes) -> list[list[str]]:
    assert response_bytes.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(response_bytes.decode("utf-8-sig"))))


def test_the_ticket_export_holds_the_workers_view_without_personal_data(intake: Intake) -> None:
    exported: ExportLog = []
    client = http_client(intake, exported=exported)
    response = client.get("/v1/tickets/export.csv", params={"community": HENGKANG}, headers=PROPERTY)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    header, *rows = csv_rows(response.content)
    assert header[:3] == ["工单编号", "收到时间", "小区"]
    # The property manager's tickets of 恒康: A B C E F H and the hostile one (D went to the owners' committee).
    assert len(rows) == 7
    assert {row[2] for row in rows} == {HENGKANG}
    assert {row[5] for row in rows} == {"property_manager"}
    assert "r-1" not in response.text
    assert "13812345678" not in response.text
    hostile = next(row for row in rows if "楼道漏水" in row[11])
    assert hostile[11].startswith("'=")  # a formula in Excel's eyes is kept as text
    assert exported == [("worker:w-7", f"tickets community={HENGKANG} party=property_manager", 7)]


def test_the_excel_export_has_real_dates_in_shanghai_and_the_same_tickets(intake: Intake) -> None:
    client = http_client(intake)
    listing = client.get("/v1/tickets", params={"page_size": 100}, headers=PROPERTY).json()["tickets"]
    response = client.get("/v1/tickets/export.xlsx", headers=PROPERTY)
    assert response.status_code == 200, response.text
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    header, *rows = list(sheet.iter_rows(values_only=True))
    assert (header[1], header[11]) == ("收到时间", "反映内容")
    assert [row[0] for row in rows] == [ticket["id"] for ticket in listing]
    by_id = {ticket["id"]: ticket for ticket in listing}
    for row in rows:
        created = datetime.fromisoformat(by_id[str(row[0])]["created_at"])
        assert row[1] == created.astimezone(SHANGHAI).replace(tzinfo=None)
    hostile = next(row for row in rows if "楼道漏水" in str(row[11]))
    assert str(hostile[11]).startswith("=HYPERLINK")  # a string cell, not a formula
    assert sheet["L" + str(rows.index(hostile) + 2)].data_type == "s"
    assert sheet.column_dimensions["L"].width == 60


def test_an_export_over_the_cap_is_refused_and_not_recorded(intake: Intake) -> None:
    exported: ExportLog = []
    client = http_client(intake, max_rows=6, exported=exported)
    for extension in ("csv", "xlsx"):
        response = client.get(f"/v1/tickets/export.{extension}", headers=PROPERTY)
        assert response.status_code == 413
        assert "缩小筛选范围" in response.json()["error"]["message"]
    assert exported == []
    narrowed = client.get("/v1/tickets/export.csv", params={"status": "closed"}, headers=PROPERTY)
    assert narrowed.status_code == 200
    assert len(csv_rows(narrowed.content)) == 1 + 2  # A and B were closed by their ratings


@pytest.mark.parametrize(
    ("headers", "params", "status"),
    [
        (as_resident("r-1"), {}, 403),
        (PROPERTY, {"community": "梅林小区"}, 403),
        (PROPERTY, {"party": "owners_committee"}, 403),
        (PROPERTY, {"status": "nonsense"}, 422),
    ],
)
def test_ticket_exports_stay_within_the_callers_view(
    intake: Intake, headers: dict[str, str], params: dict[str, str], status: int
) -> None:
    response = http_client(intake).get("/v1/tickets/export.csv", params=params, headers=headers)
    assert response.status_code == status


def test_the_dashboard_export_holds_the_same_figures_in_csv_and_excel(intake: Intake) -> None:
    exported: ExportLog = []
    client = http_client(intake, exported=exported)
    header, row = csv_rows(client.get("/v1/dashboards/export.csv", params=WEEK, headers=PROPERTY).content)
    figures = dict(zip(header, row, strict=True))
    assert figures["周期开始"] == "2026-01-05"
    assert figures["收到工单"] == "8"  # 恒康's seven and the hostile one
    assert (figures["满意数"], figures["满意率分母"], figures["满意率"]) == ("1", "3", "33.3%")
    assert (figures["转派数"], figures["转派率分母"]) == ("1", "8")
    assert figures["受理用时中位数(分钟)"] == "60.0"
    response = client.get("/v1/dashboards/export.xlsx", params={**WEEK, "period": "month"}, headers=PROPERTY)
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    xlsx_header, xlsx_row = list(sheet.iter_rows(values_only=True))
    by_header = dict(zip(xlsx_header, xlsx_row, strict=True))
    assert by_header["周期开始"] == datetime(2026, 1, 1)
    assert by_header["满意率"] == pytest.approx(1 / 3)
    assert by_header["办结用时中位数(小时)"] == 10.0
    assert [entry[2] for entry in exported] == [1, 1]
    assert exported[0][1] == f"dashboard scope=community:{HENGKANG} party=* period=week 2026-01-05..2026-01-11"
