"""In chromium over the real HTTP app: a worker sees a ticket's callback phone masked and reads it in full with
查看联系电话 (recorded by the audit log); the inbox's Excel export follows the current tab and holds the tickets of
that view, read back with openpyxl."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pytest
import uvicorn
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, expect

from services.intake.database import Database
from tests.browser.conftest import SCREENSHOTS
from tests.conftest import free_port
from tests.integration.conftest import wait_until
from tests.tokens import worker_token
from tests.unit.intake.tickets.test_contact_phone import ADMIN, MOBILE, PM, App, make_app, submit

pytestmark = pytest.mark.integration

PM_TOKEN = worker_token("w-7", "property_manager", "恒康居民区")


@dataclass
class Served:
    url: str
    app: App


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    database = Database(f"sqlite:///{tmp_path / 'tickets.sqlite'}")
    database.upgrade_schema()
    app = make_app(database)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app.client.app, host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, seconds=30, what="uvicorn to start")
    yield Served(f"http://127.0.0.1:{port}", app)
    server.should_exit = True
    thread.join(10)
    database.dispose()


@pytest.fixture
def desk(browser: Browser, served: Served) -> Iterator[Page]:
    context = browser.new_context(
        viewport={"width": 1280, "height": 1000}, locale="zh-CN", base_url=served.url, accept_downloads=True
    )
    page = context.new_page()
    yield page
    context.close()


def sign_in(desk: Page, path: str) -> None:
    desk.goto(path)
    desk.fill("#token", PM_TOKEN)
    desk.click("#signin-button")
    expect(desk.locator("#workspace")).to_be_visible()


def test_a_worker_reads_the_callback_phone_with_one_click_and_it_is_recorded(desk: Page, served: Served) -> None:
    ticket_id = submit(served.app)
    sign_in(desk, f"/console/tickets/{ticket_id}")
    expect(desk.locator("#d-contact-masked")).to_have_text("138****5678")
    expect(desk.locator("#d-contact-full")).to_be_hidden()
    desk.click("#d-contact-show")
    expect(desk.locator("#d-contact-full")).to_have_text(MOBILE)
    expect(desk.locator("#d-contact-masked")).to_be_hidden()
    # The resident's card only: this app serves no conversation, which the rest of the page would show as an error.
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    desk.locator("#detail section.card").first.screenshot(path=str(SCREENSHOTS / "console-contact-phone.png"))
    client: TestClient = served.app.client
    events = client.get("/v1/audit", params={"action": "personal_data_read"}, headers=ADMIN).json()["events"]
    assert [(event["actor"], event["detail"]["ticket_id"]) for event in events] == [("worker:w-7", ticket_id)]


def test_the_inbox_export_follows_the_current_tab(desk: Page, served: Served) -> None:
    for _ in range(3):
        submit(served.app, None)
    mine = submit(served.app, None)
    served.app.client.post(f"/v1/tickets/{mine}/accept", headers=PM)
    sign_in(desk, "/console/")
    expect(desk.locator("#inbox tr")).to_have_count(4)
    desk.click('[data-set="mine"]')
    expect(desk.locator("#inbox tr")).to_have_count(1)
    with desk.expect_download() as download:
        desk.click("#export-xlsx")
    content = Path(download.value.path()).read_bytes()
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    assert sheet is not None
    exported = [row[0] for row in list(sheet.iter_rows(values_only=True))[1:]]
    pages = served.app.client.get("/v1/inbox", params={"set": "mine"}, headers=PM).json()["tickets"]
    assert exported == [ticket["id"] for ticket in pages] == [mine]
    (event,) = served.app.client.get("/v1/audit", params={"action": "export"}, headers=ADMIN).json()["events"]
    assert event["subject"].startswith("inbox:mine sort=deadline")
    assert event["actor"] == "worker:w-7"
