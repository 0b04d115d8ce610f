"""The console's ticket search in a real browser over intake (no routing: tickets are triaged by hand): the header's
box, the results with the matched words marked, and the link to the ticket."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from services.intake.server import IntakeDeps
from services.intake.triage.flows import TriageFlows
from tests.browser.conftest import screenshot
from tests.integration.conftest import RunningIntake, intake_settings_for, running_intake
from tests.tokens import as_resident, worker_token
from tests.unit.intake.fakes import RecordingNotifier, RecordingTaskQueue, decision

pytestmark = pytest.mark.integration

UI_MS = 15_000
COMMUNITY = "恒康居民区"
PROPERTY_MANAGER = worker_token("w-pm", "property_manager", COMMUNITY)


@pytest.fixture
def intake(tmp_path: Path) -> Iterator[RunningIntake]:
    settings = intake_settings_for(f"sqlite:///{tmp_path / 'tickets.sqlite'}", "memory://", 1, 1)
    deps = IntakeDeps(queue=RecordingTaskQueue(), notifier=RecordingNotifier())
    with running_intake(settings, deps) as running:
        yield running


def routed_ticket(intake: RunningIntake, text: str, building: str) -> str:
    body = {"text": text, "community": COMMUNITY, "building": building}
    reply = intake.http.post("/v1/tickets", json=body, headers=as_resident("r-search"))
    assert reply.status_code == 201, reply.text
    ticket_id = str(reply.json()["id"])
    TriageFlows(intake.server.context).record_triage(ticket_id, decision("property_manager"))
    return ticket_id


def test_a_worker_searches_from_the_header_and_opens_the_ticket(browser: Browser, intake: RunningIntake) -> None:
    leak = routed_ticket(intake, "地下车库入口漏水,地面湿滑<b>请尽快</b>", "5号楼")
    routed_ticket(intake, "楼道灯坏了", "6号楼")
    context = browser.new_context(
        viewport={"width": 1280, "height": 900},
        locale="zh-CN",
        base_url=f"http://127.0.0.1:{intake.settings.http_port}",
    )
    context.add_init_script(f"sessionStorage.setItem('linli.token', {PROPERTY_MANAGER!r})")
    desk = context.new_page()
    desk.goto("/console/")
    expect(desk.locator("#who")).not_to_be_empty(timeout=UI_MS)
    desk.fill("#search-q", "漏水")
    desk.locator("form.console-search button").click()
    rows = desk.locator("#search-results tr")
    expect(rows).to_have_count(1, timeout=UI_MS)
    row = desk.locator(f"#search-results tr[data-ticket='{leak}']")
    expect(row.locator("mark")).to_have_text("漏水")
    # The resident's words are text, never markup.
    expect(row).to_contain_text("<b>请尽快</b>")
    expect(row.locator("td").first).to_have_text(leak[:8])
    expect(desk.locator("#search-q")).to_have_value("漏水")
    screenshot(desk, "console-search")
    desk.fill("#search-q", leak[:8])
    desk.locator("form.console-search button").click()
    expect(desk.locator("#search-results tr")).to_have_count(1, timeout=UI_MS)
    expect(desk.locator("#search-results")).to_contain_text("工单号")
    desk.locator("#search-results tr a").first.click()
    expect(desk).to_have_url(re.compile(f"/console/tickets/{leak}$"))
    context.close()
