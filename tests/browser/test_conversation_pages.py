"""The conversation in the browser: a worker asks on the console, the resident sees the question (not the internal
note) on the H5 page and answers, and the console's inbox marks the unread answer. Intake runs on SQLite with the
triage recorded by hand: these screens do not need routing or retrieval."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from services.intake.server import IntakeDeps
from services.intake.triage.flows import TriageFlows
from tests.browser.conftest import screenshot
from tests.integration.conftest import RunningIntake, intake_settings_for, running_intake
from tests.tokens import as_resident, worker_token
from tests.unit.intake.fakes import RecordingNotifier, RecordingTaskQueue, decision

pytestmark = pytest.mark.integration

UI_MS = 15_000
COMMUNITY = "恒康居民区"
RESIDENT_ID = "h5-conversation"
PROPERTY_MANAGER = worker_token("w-pm", "property_manager", COMMUNITY)


@pytest.fixture
def intake(tmp_path: Path) -> Iterator[RunningIntake]:
    settings = intake_settings_for(f"sqlite:///{tmp_path / 'tickets.sqlite'}", "memory://", 1, 1)
    deps = IntakeDeps(queue=RecordingTaskQueue(), notifier=RecordingNotifier())
    with running_intake(settings, deps) as running:
        yield running


def page_on(browser: Browser, intake: RunningIntake, width: int, script: str) -> Page:
    context = browser.new_context(
        viewport={"width": width, "height": 900},
        locale="zh-CN",
        base_url=f"http://127.0.0.1:{intake.settings.http_port}",
    )
    context.add_init_script(script)
    return context.new_page()


def routed_ticket(intake: RunningIntake) -> str:
    body = {"text": "楼道的灯坏了好几天了,晚上很黑", "community": COMMUNITY, "building": "3号楼"}
    reply = intake.http.post("/v1/tickets", json=body, headers=as_resident(RESIDENT_ID))
    assert reply.status_code == 201, reply.text
    ticket_id = str(reply.json()["id"])
    TriageFlows(intake.server.context).record_triage(ticket_id, decision("property_manager"))
    return ticket_id


def status_of(intake: RunningIntake, ticket_id: str) -> Any:
    return intake.http.get(f"/v1/tickets/{ticket_id}", headers=as_resident(RESIDENT_ID)).json()["status"]


def test_a_question_from_the_console_is_answered_on_the_phone(browser: Browser, intake: RunningIntake) -> None:
    ticket_id = routed_ticket(intake)
    desk = page_on(browser, intake, 1280, f"sessionStorage.setItem('linli.token', {PROPERTY_MANAGER!r})")
    desk.goto(f"/console/tickets/{ticket_id}")
    conversation = desk.locator("#conversation")
    expect(conversation.locator(".thread-empty")).to_be_visible(timeout=UI_MS)
    conversation.locator(".reply-text").fill("这栋楼上月换过线路,先查总闸")
    conversation.locator("input[value=internal]").check()
    conversation.locator(".reply-send").click()
    expect(conversation.locator(".message.internal")).to_have_count(1, timeout=UI_MS)
    conversation.locator(".reply-text").fill("请问是哪个单元的楼道?")
    conversation.locator("input[value=question]").check()
    conversation.locator(".reply-send").click()
    expect(conversation.locator(".message.question")).to_contain_text("请问是哪个单元", timeout=UI_MS)
    expect(desk.locator("#d-meta")).to_contain_text("待居民答复")
    expect(desk.locator("#d-meta")).to_contain_text("暂停:等居民答复")
    screenshot(desk, "console-conversation")
    assert status_of(intake, ticket_id) == "waiting_resident"

    phone = page_on(browser, intake, 375, f"localStorage.setItem('linli.resident', {RESIDENT_ID!r})")
    phone.goto(f"/h5/tickets/{ticket_id}")
    thread = phone.locator("#conversation .thread")
    expect(thread).to_contain_text("请问是哪个单元", timeout=UI_MS)
    expect(thread).not_to_contain_text("总闸")
    expect(phone.locator("#waiting-hint")).to_be_visible()
    expect(phone.locator("#timeline")).to_contain_text("物业向您提问")
    screenshot(phone, "h5-conversation-question")
    phone.locator("#conversation .reply-text").fill("2 单元,三楼到五楼")
    phone.locator("#conversation .reply-send").click()
    expect(thread.locator(".message")).to_have_count(2, timeout=UI_MS)
    expect(phone.locator("#status")).to_have_text("已分派")
    expect(phone.locator("#waiting-hint")).to_be_hidden()
    assert status_of(intake, ticket_id) == "routed"

    desk.goto("/console/")
    row = desk.locator(f"tr[data-ticket='{ticket_id}']")
    expect(row.locator(".unread")).to_have_text("居民新消息 1", timeout=UI_MS)
    screenshot(desk, "console-inbox-unread")
    desk.goto(f"/console/tickets/{ticket_id}")
    expect(desk.locator("#conversation .message.from-resident")).to_contain_text("2 单元", timeout=UI_MS)
    desk.goto("/console/")
    expect(desk.locator(f"tr[data-ticket='{ticket_id}']")).to_be_visible(timeout=UI_MS)
    expect(desk.locator(f"tr[data-ticket='{ticket_id}'] .unread")).to_have_count(0)
