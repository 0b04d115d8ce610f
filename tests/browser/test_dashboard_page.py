"""The dashboard page in chromium over the real HTTP app (SQLite, known tickets): the big numbers with their
numerators and denominators, Chart.js drawing from the bundled file, and the CSV export downloaded with the token."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect

from services.intake.database import Database
from tests.browser.conftest import screenshot
from tests.conftest import free_port
from tests.integration.conftest import wait_until
from tests.tokens import worker_token
from tests.unit.intake.dashboards.timeline import HENGKANG, NOW, StillClock, http_app, known_week
from tests.unit.intake.fakes import Intake

pytestmark = pytest.mark.integration

ADMIN = worker_token("a-1", "street_office", "", "admin")


@pytest.fixture
def server_url(tmp_path: Path) -> Iterator[str]:
    database = Database(f"sqlite:///{tmp_path / 'tickets.sqlite'}")
    database.upgrade_schema()
    intake = Intake(database, clock=StillClock(NOW))
    known_week(intake)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(http_app(intake), host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, seconds=30, what="uvicorn to start")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
    database.dispose()


@pytest.fixture
def desk(browser: Browser, server_url: str) -> Iterator[Page]:
    context = browser.new_context(
        viewport={"width": 1280, "height": 1000}, locale="zh-CN", base_url=server_url, accept_downloads=True
    )
    page = context.new_page()
    yield page
    context.close()


def test_the_dashboard_shows_the_rates_charts_them_and_exports_them(desk: Page) -> None:
    desk.goto("/console/dashboard")
    desk.fill("#token", ADMIN)
    desk.click("#signin-button")
    expect(desk.locator("#workspace")).to_be_visible()
    desk.select_option("#d-scope", f"community:{HENGKANG}")
    desk.fill("#d-from", "2026-01-05")
    desk.fill("#d-to", "2026-01-11")
    desk.locator("#d-to").dispatch_event("change")
    numbers = desk.locator("#dashboard")
    expect(numbers).to_contain_text("响应率66.7%4 / 6")
    expect(numbers).to_contain_text("满意率33.3%1 / 3")
    expect(numbers).to_contain_text("收到工单7")
    datasets = "(id) => Chart.getChart(document.getElementById(id)).data.datasets.length"
    drawn = desk.evaluate(f"() => ['rates-chart', 'volume-chart'].map({datasets})")
    assert drawn == [6, 3]
    screenshot(desk, "console-dashboard")
    with desk.expect_download() as download:
        desk.click("#d-export-csv")
    content = Path(download.value.path()).read_bytes()
    assert content.startswith("\ufeff周期开始".encode())
    assert download.value.suggested_filename == "考核指标-2026-01-05-2026-01-11.csv"
