"""Photos in a real browser: the resident picks photos on the H5 page (preview, removal, a refused file said in
Chinese), the ticket page shows the thumbnail, and the worker resolves with an after-photo from the console.

Photos need no routing: intake runs alone (SQLite, Redis), and the ticket is triaged in intake's own process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from services.intake.triage.flows import TriageFlows
from tests.browser.conftest import screenshot
from tests.conftest import free_port
from tests.integration.conftest import RunningIntake, intake_settings_for, running_intake, wait_until
from tests.tokens import worker_token
from tests.unit.intake.fakes import decision
from tests.unit.intake.uploads.photos import jpeg_with_gps, png

pytestmark = pytest.mark.integration

COMMUNITY = "恒康居民区"
UI_MS = 20_000


@pytest.fixture
def intake(tmp_path: Path, redis_url: str) -> Iterator[RunningIntake]:
    settings = intake_settings_for(f"sqlite:///{tmp_path / 'tickets.sqlite'}", redis_url, free_port(), free_port())
    with running_intake(settings) as running:
        yield running


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    made = {"door.jpg": jpeg_with_gps(400, 300), "stairs.png": png(200, 150), "notes.jpg": b"not a photo at all"}
    for name, content in made.items():
        (tmp_path / name).write_bytes(content)
    return {name: tmp_path / name for name in made}


def page_of(browser: Browser, intake: RunningIntake, width: int) -> Page:
    base = f"http://127.0.0.1:{intake.settings.http_port}"
    return browser.new_context(viewport={"width": width, "height": 900}, locale="zh-CN", base_url=base).new_page()


def loaded_images(page: Page, selector: str) -> int:
    """How many images under `selector` the browser actually decoded."""
    return int(page.eval_on_selector_all(selector, "images => images.filter(i => i.naturalWidth > 0).length"))


def test_a_resident_attaches_photos_and_a_worker_adds_the_after_photo(
    browser: Browser, intake: RunningIntake, files: dict[str, Path]
) -> None:
    phone = page_of(browser, intake, 375)
    phone.goto("/h5/")
    phone.select_option("#community", COMMUNITY)
    phone.fill("#text", "3号楼单元门的门禁坏了,门一直关不上")
    phone.set_input_files("#photos", [files["door.jpg"], files["stairs.png"], files["notes.jpg"]])

    items = phone.locator("#photo-list li")
    expect(items).to_have_count(3)
    expect(items.nth(0)).to_contain_text("已上传", timeout=UI_MS)
    expect(items.nth(1)).to_contain_text("已上传", timeout=UI_MS)
    expect(items.nth(2)).to_contain_text("不是照片", timeout=UI_MS)
    screenshot(phone, "h5-photos")
    items.nth(2).locator(".photo-remove").click()
    items.nth(1).locator(".photo-remove").click()
    expect(items).to_have_count(1)
    phone.click("#submit")
    phone.wait_for_url("**/h5/tickets/*", timeout=UI_MS)
    expect(phone.locator("#ticket-photos img")).to_have_count(1, timeout=UI_MS)
    phone.wait_for_function("document.querySelector('#ticket-photos img').naturalWidth > 0")
    ticket_id = phone.url.rsplit("/", 1)[1]

    TriageFlows(intake.server.context).record_triage(ticket_id, decision("property_manager"))
    desk = page_of(browser, intake, 1280)
    desk.goto("/console/")
    desk.fill("#token", worker_token("w-photo", "property_manager", COMMUNITY))
    desk.click("#signin-button")
    expect(desk.locator("#who")).not_to_be_empty()
    desk.goto(f"/console/tickets/{ticket_id}")
    expect(desk.locator("#d-photos a")).to_have_count(1, timeout=UI_MS)
    desk.click("#accept")
    expect(desk.locator("#resolve")).to_be_enabled(timeout=UI_MS)
    desk.set_input_files("#after-photos", [files["stairs.png"]])
    expect(desk.locator("#after-photo-list li")).to_contain_text("已上传", timeout=UI_MS)
    desk.fill("#resolution", "已更换门禁锁,门能关上了")
    desk.click("#resolve")

    expect(desk.locator("#d-photos img")).to_have_count(2, timeout=UI_MS)
    # The second <img> is in the page before its bytes are decoded: wait for both, as the resident journey does.
    wait_until(lambda: loaded_images(desk, "#d-photos img") == 2, seconds=UI_MS / 1000, what="both photos decoded")
    full = desk.locator("#d-photos a").first.get_attribute("href") or ""
    assert "/files/" in full
    assert "sig=" in full
    screenshot(desk, "console-photos")
    phone.reload()
    expect(phone.locator("#ticket-photos img")).to_have_count(2, timeout=UI_MS)
