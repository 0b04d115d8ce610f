"""A resident's ticket, end to end, in Chromium over the real stack (retrieval, routing, intake, a triage worker):
SMS login, a report with a phone photo (its GPS stripped before storage), the worker's question pausing the SLA clock,
the resident's answer resuming it, resolution with an after-photo, and the rating.

Each step is photographed: under test-output/screenshots/ by default, into docs/ui/ (the pictures docs/ui.md shows)
when LINLI_DOCS_SCREENSHOTS=1.
"""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from PIL import Image
from playwright.sync_api import Browser, FloatRect, Page, expect

from services.intake.uploads.settings import UploadSettings
from tests.browser.conftest import READY_SECONDS, SCREENSHOTS, Stack
from tests.browser.test_faces import COMMUNITY, PROPERTY_MANAGER, TRIAGE_SECONDS, sign_in
from tests.browser.test_h5_login import DEV_CODE, PHONE
from tests.browser.test_photos import loaded_images
from tests.integration.conftest import wait_until
from tests.tokens import as_resident
from tests.unit.intake.uploads.photos import exif_of, jpeg_with_gps, png

# pytest-timeout counts fixture setup: this module's one test also pays for starting the stack (retrieval, then
# routing training its model, each allowed READY_SECONDS) before its own minute or so of clicking.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(2 * READY_SECONDS + 240)]

DOCS_UI = Path(__file__).resolve().parents[2] / "docs" / "ui"
UI_MS = 30_000  # triage runs in the worker process: the pages poll until it is done
PROBLEM = "5号楼1单元楼道的灯坏了好几天,晚上上下楼看不见台阶"
QUESTION = "请问是几楼到几楼的灯不亮?"
ANSWER = "三楼到五楼都不亮"
WAIT_SECONDS = 1.5
RESOLUTION = "已更换三楼到五楼的楼道灯,灯已亮。"


@pytest.fixture(scope="module", autouse=True)
def dev_sms() -> Iterator[None]:
    """The development SMS provider (codes printed to intake's output), set before the module's stack starts."""
    environment = pytest.MonkeyPatch()
    environment.setenv("LINLI_SMS_PROVIDER", "dev")
    yield
    environment.undo()


@pytest.fixture
def photos(tmp_path: Path) -> dict[str, Path]:
    """The resident's phone photo (GPS and camera in its EXIF) and the worker's after-photo."""
    made = {"lamp.jpg": jpeg_with_gps(800, 600), "fixed.png": png(800, 600, "RGB")}
    for name, content in made.items():
        (tmp_path / name).write_bytes(content)
    return {name: tmp_path / name for name in made}


def step_shot(page: Page, name: str, clip: FloatRect | None = None) -> None:
    """The visible viewport (or `clip` of it) in docs/ui/ when asked, else next to the other screenshots; in 256
    colours, which keeps a console screen well under 150 KB."""
    folder = DOCS_UI if os.environ.get("LINLI_DOCS_SCREENSHOTS") == "1" else SCREENSHOTS
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    with Image.open(io.BytesIO(page.screenshot(clip=clip))) as shot:
        shot.convert("RGB").quantize(256).save(path, optimize=True)


def report_card_shot(desk: Page, name: str) -> None:
    """The console's 居民反映 card down to its photos: the status and the 办理时限 line."""
    expect(desk.locator("#d-photos img").first).to_be_visible(timeout=UI_MS)  # the card re-renders after a change
    desk.evaluate("window.scrollTo(0, 0)")
    card = desk.locator("#detail > section.card").first.bounding_box()
    photos = desk.locator("#d-photos").bounding_box()
    assert card is not None
    assert photos is not None
    bottom = photos["y"] + photos["height"] + 16
    step_shot(desk, name, {"x": card["x"], "y": card["y"], "width": card["width"], "height": bottom - card["y"]})


def context_page(browser: Browser, stack: Stack, width: int, height: int) -> Page:
    context = browser.new_context(
        viewport={"width": width, "height": height}, locale="zh-CN", base_url=stack.url, device_scale_factor=1
    )
    return context.new_page()


def ticket_json(stack: Stack, ticket_id: str, resident_id: str) -> dict[str, Any]:
    reply = stack.intake.http.get(f"/v1/tickets/{ticket_id}", headers=as_resident(resident_id))
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def due(ticket: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(ticket["sla_due_at"])


def log_in_by_sms(phone: Page, capfd: pytest.CaptureFixture[str]) -> str:
    """The resident types the number and the texted code (the dev provider prints it); returns their resident id."""
    phone.goto("/h5/mine?login=sms")
    phone.locator("#login-card").wait_for(state="visible")
    phone.fill("#login-phone", PHONE)
    phone.click("#login-send")
    phone.wait_for_function("document.getElementById('login-send').textContent.includes('秒后重发')")
    phone.fill("#login-code", DEV_CODE.findall(capfd.readouterr().out)[-1])
    step_shot(phone, "e2e-01-sms-login")
    phone.click("#login-submit")
    phone.locator("#login-card").wait_for(state="hidden")
    resident_id = str(json.loads(phone.evaluate("localStorage.getItem('linli.session')"))["resident_id"])
    assert resident_id.startswith("phone:")
    return resident_id


def submit_with_photo(phone: Page, stack: Stack, photo: Path, resident_id: str) -> str:
    """Fills the form with the photo, submits (past an instant answer, if one shows) and waits for triage."""
    phone.goto("/h5/")
    phone.select_option("#community", COMMUNITY)
    phone.fill("#building", "5号楼")
    phone.fill("#text", PROBLEM)
    phone.set_input_files("#photos", [photo])
    expect(phone.locator("#photo-list li")).to_contain_text("已上传", timeout=UI_MS)
    phone.locator("#photo-list").scroll_into_view_if_needed()
    step_shot(phone, "e2e-02-submit-with-photo")
    phone.click("#submit")
    phone.wait_for_url("**/h5/tickets/*", timeout=UI_MS)
    ticket_id = phone.url.rsplit("/", 1)[1]
    wait_until(
        lambda: ticket_json(stack, ticket_id, resident_id)["status"] != "received",
        seconds=TRIAGE_SECONDS,
        what="triage",
    )
    ticket = ticket_json(stack, ticket_id, resident_id)
    assert (ticket["status"], ticket["party"]) == ("routed", "property_manager"), ticket["events"]
    expect(phone.locator("#routed-party")).to_contain_text("物业", timeout=UI_MS)
    phone.wait_for_function("document.querySelector('#ticket-photos img')?.naturalWidth > 0")
    step_shot(phone, "e2e-03-ticket-routed")
    return ticket_id


def assert_stored_without_exif(ticket: dict[str, Any]) -> None:
    """The stored photo and its thumbnail, read from the upload folder, carry no EXIF (so no GPS)."""
    folder = UploadSettings().folder
    (attachment,) = ticket["attachments"]
    for link in (attachment["url"], attachment["thumbnail_url"]):
        key = urlsplit(link).path.removeprefix("/files/")
        assert exif_of((folder / key).read_bytes()) == {}, key


def ask_and_answer(desk: Page, phone: Page, stack: Stack, ticket_id: str, resident_id: str) -> None:
    """The worker's question stops the SLA clock; the resident's answer restarts it, the deadline later by the wait."""
    before = ticket_json(stack, ticket_id, resident_id)
    conversation = desk.locator("#conversation")
    conversation.locator(".reply-text").fill(QUESTION)
    conversation.locator("input[value=question]").check()
    conversation.locator(".reply-send").click()
    expect(conversation.locator(".message.question")).to_contain_text(QUESTION, timeout=UI_MS)
    expect(desk.locator("#d-meta")).to_contain_text("暂停:等居民答复")
    waiting = ticket_json(stack, ticket_id, resident_id)
    assert waiting["status"] == "waiting_resident"
    assert waiting["sla_due_at"] == before["sla_due_at"]  # paused: the deadline stands until the answer
    conversation.scroll_into_view_if_needed()
    step_shot(desk, "e2e-05-console-question")
    report_card_shot(desk, "e2e-06-console-paused")

    phone.goto(f"/h5/tickets/{ticket_id}")
    expect(phone.locator("#conversation .thread")).to_contain_text(QUESTION, timeout=UI_MS)
    expect(phone.locator("#waiting-hint")).to_be_visible()
    phone.locator("#conversation .reply-text").fill(ANSWER)
    phone.locator("#conversation").scroll_into_view_if_needed()
    step_shot(phone, "e2e-07-h5-answer")
    time.sleep(WAIT_SECONDS)  # however fast the machine, the wait is long enough to see in the deadline
    phone.locator("#conversation .reply-send").click()
    expect(phone.locator("#conversation .thread .message")).to_have_count(2, timeout=UI_MS)
    answered_by = datetime.now(UTC)
    expect(phone.locator("#waiting-hint")).to_be_hidden()
    resumed = ticket_json(stack, ticket_id, resident_id)
    assert (resumed["status"], resumed["waiting_since"]) == ("routed", None)
    moved = due(resumed) - due(before)
    assert timedelta(seconds=WAIT_SECONDS) <= moved <= answered_by - datetime.fromisoformat(waiting["waiting_since"])


def test_a_residents_ticket_end_to_end(
    browser: Browser, stack: Stack, photos: dict[str, Path], capfd: pytest.CaptureFixture[str]
) -> None:
    phone = context_page(browser, stack, 390, 844)
    resident_id = log_in_by_sms(phone, capfd)
    ticket_id = submit_with_photo(phone, stack, photos["lamp.jpg"], resident_id)
    ticket = ticket_json(stack, ticket_id, resident_id)
    assert ticket["resident_id"] == resident_id
    assert_stored_without_exif(ticket)

    desk = context_page(browser, stack, 1280, 800)
    sign_in(desk, PROPERTY_MANAGER)
    desk.goto(f"/console/tickets/{ticket_id}")
    expect(desk.locator("#d-photos img")).to_have_count(1, timeout=UI_MS)
    desk.wait_for_function("document.querySelector('#d-photos img').naturalWidth > 0")
    step_shot(desk, "e2e-04-console-thumbnail")

    ask_and_answer(desk, phone, stack, ticket_id, resident_id)

    desk.reload()
    expect(desk.locator("#conversation .message.from-resident")).to_contain_text(ANSWER, timeout=UI_MS)
    expect(desk.locator("#d-meta")).not_to_contain_text("暂停")
    report_card_shot(desk, "e2e-08-console-resumed")
    desk.click("#accept")
    expect(desk.locator("#flash")).to_have_text("已受理。", timeout=UI_MS)
    desk.set_input_files("#after-photos", [photos["fixed.png"]])
    expect(desk.locator("#after-photo-list li")).to_contain_text("已上传", timeout=UI_MS)
    desk.fill("#resolution", RESOLUTION)
    desk.click("#resolve")
    expect(desk.locator("#flash")).to_contain_text("已办结", timeout=UI_MS)
    expect(desk.locator("#d-photos img")).to_have_count(2, timeout=UI_MS)
    wait_until(lambda: loaded_images(desk, "#d-photos img") == 2, seconds=UI_MS / 1000, what="both photos")
    desk.evaluate("window.scrollTo(0, 0)")
    step_shot(desk, "e2e-09-console-resolved")
    assert ticket_json(stack, ticket_id, resident_id)["status"] == "resolved"

    phone.goto(f"/h5/tickets/{ticket_id}")
    expect(phone.locator("#rate")).to_be_visible(timeout=UI_MS)
    expect(phone.locator("#ticket-photos img")).to_have_count(2)
    phone.click(".star[data-score='5']")
    phone.fill("#rate-comment", "修得很快,谢谢")
    phone.locator("#rate").scroll_into_view_if_needed()
    step_shot(phone, "e2e-10-h5-rate")
    phone.click("#rate-submit")
    expect(phone.locator("#status")).to_have_text("已关闭", timeout=UI_MS)
    rated = ticket_json(stack, ticket_id, resident_id)
    assert (rated["status"], rated["rating"]) == ("closed", 5)
    phone.evaluate("window.scrollTo(0, 0)")
    step_shot(phone, "e2e-11-h5-closed")
    phone.context.close()
    desk.context.close()
