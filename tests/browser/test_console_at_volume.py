"""Issue 19's "done when" in chromium: a worker finds a ticket by a word and by its number from the header's search
box, bulk-transfers three tickets with one reason (one refused by its rules, reported so), exports the inbox's view
to Excel (read back with openpyxl: the view's tickets in its order, no others) and reads a callback number in full
(both in the audit log with actor and time), and a street office worker signed in through WeCom reads
响应率 / 解决率 / 满意率 on the dashboard, checked against figures this test works out from the tickets it made.

Intake's real server alone (create_server under uvicorn: the organisation, the audit log, the inbox, search,
dashboards and exports wired as in production; no retrieval, routing or broker: triage is recorded by hand). Tickets
are made and acted on through the HTTP API on a clock the test sets (IntakeDeps.clock), so every receipt,
acceptance and audit time is known; the dashboards read the wall clock, long past every acceptance window here.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from PIL import Image
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from services.intake.server import IntakeDeps
from services.intake.triage.flows import TriageFlows
from tests.browser.conftest import SCREENSHOTS
from tests.integration.conftest import RunningIntake, intake_settings_for, running_intake
from tests.tokens import as_resident, bearer, worker_token
from tests.unit.intake.fakes import RecordingNotifier, RecordingTaskQueue, decision

pytestmark = pytest.mark.integration

UI_MS = 15_000
DOCS_UI = Path(__file__).resolve().parents[2] / "docs" / "ui"
STREET = "qa-street"
HENGKANG = "恒康居民区"
MEILIN = "梅林小区"
# Not on the street: its tickets must stay out of the street's figures.
JINQIAO = "金桥新村"
PM = "property_manager"
OWNERS = "owners_committee"
ADMIN = worker_token("admin-qa", "street_office", "", "admin")
INBOX_WORKER_ID = "w-pm"
INBOX_WORKER = worker_token(INBOX_WORKER_ID, PM, JINQIAO)
STREET_USERID = "chen-jiedao"
STREET_WORKER_ID = "w-street"
RESIDENT = "r-volume"
CALLBACK_PHONE = "13900000042"
# Monday 5 January 2026, 09:00 in Shanghai: the dashboard's tickets are received in that ISO week and the next.
T0 = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)
ACCEPT_WINDOW = timedelta(hours=2)  # docs/dashboards.md: 响应 = first acceptance within 2 h of receipt
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
WEEK = timedelta(days=7)


class SetClock:
    """Intake's clock: stands where the test puts it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Intake:
    """The running intake, its clock and the browser's base address."""

    running: RunningIntake
    clock: SetClock

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.running.settings.http_port}"

    def call(self, method: str, path: str, token: str, body: object = None) -> object:
        reply = self.running.http.request(method, path, json=body, headers=bearer(token))
        assert reply.status_code < 300, f"{method} {path}: {reply.status_code} {reply.text}"
        return reply.json()

    def ticket(self, ticket_id: str, reader: str) -> dict[str, object]:
        """The ticket as `reader` (a worker of its party: another party's, even an admin's, is 404) reads it."""
        answer = self.call("GET", f"/v1/tickets/{ticket_id}", reader)
        assert isinstance(answer, dict)
        return answer

    def routed(
        self, text: str, community: str, *, at: datetime | None = None, building: str = "3号楼", phone: str = ""
    ) -> str:
        """A resident's ticket received at `at` (the clock's time by default), routed at once to the property
        manager (triage is a Celery task: its outcome is recorded as the worker records it)."""
        if at is not None:
            self.clock.now = at
        body = {"text": text, "community": community, "building": building}
        if phone:
            body["contact_phone"] = phone
        reply = self.running.http.post("/v1/tickets", json=body, headers=as_resident(RESIDENT))
        assert reply.status_code == 201, reply.text
        ticket_id = str(reply.json()["id"])
        TriageFlows(self.running.server.context).record_triage(ticket_id, decision(PM, sla_hours=72))
        return ticket_id

    def act(self, ticket_id: str, verb: str, worker: str, at: datetime, body: object = None) -> None:
        self.clock.now = at
        self.call("POST", f"/v1/tickets/{ticket_id}/{verb}", worker, body or {})

    def rate(self, ticket_id: str, score: int, at: datetime) -> None:
        self.clock.now = at
        reply = self.running.http.post(
            f"/v1/tickets/{ticket_id}/rate", json={"score": score}, headers=as_resident(RESIDENT)
        )
        assert reply.status_code == 200, reply.text


@pytest.fixture
def intake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Intake]:
    """Intake with the development WeCom verifier, and an organisation made by an admin over the API: a street with
    恒康 and 梅林, 金桥 on no street, a street office worker with a WeCom userid."""
    monkeypatch.setenv("LINLI_WECOM_VERIFIER", "dev")
    settings = intake_settings_for(f"sqlite:///{tmp_path / 'tickets.sqlite'}", "memory://", 1, 1)
    clock = SetClock(T0)
    deps = IntakeDeps(queue=RecordingTaskQueue(), notifier=RecordingNotifier(), clock=clock)
    with running_intake(settings, deps) as running:
        desk = Intake(running, clock)
        desk.call("POST", "/v1/org/streets", ADMIN, {"code": STREET, "name": "测试街道"})
        for community, street in ((HENGKANG, STREET), (MEILIN, STREET), (JINQIAO, "")):
            desk.call("POST", "/v1/org/communities", ADMIN, {"name": community, "street": street})
        office = {
            "worker_id": STREET_WORKER_ID,
            "party": "street_office",
            "street": STREET,
            "wecom_userid": STREET_USERID,
            "display_name": "陈科长",
        }
        desk.call("POST", "/v1/org/workers", ADMIN, office)
        yield desk


class Problems:
    """What the page logs as an error, or throws: a test fails on any."""

    def __init__(self, page: Page) -> None:
        self.seen: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.seen.append(f"pageerror: {error}"))

    def _console(self, message: ConsoleMessage) -> None:
        source = message.location.get("url", "")
        # The browser asks for /favicon.ico on its own; the console's pages do not name one.
        if message.type == "error" and not source.endswith("/favicon.ico"):
            self.seen.append(f"console: {message.text} at {source}")


@pytest.fixture
def desk(browser: Browser, intake: Intake) -> Iterator[tuple[Page, Problems]]:
    """A worker's screen, 1280 x 800, in Beijing time; anything the page logs as an error fails the test."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 800},
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        base_url=intake.url,
        accept_downloads=True,
    )
    page = context.new_page()
    problems = Problems(page)
    yield page, problems
    context.close()
    assert problems.seen == []


def signed_in(page: Page, token: str, path: str = "/console/") -> None:
    page.evaluate("([key, value]) => sessionStorage.setItem(key, value)", ["linli.token", token])
    page.goto(path)
    expect(page.locator("#who")).not_to_be_empty(timeout=UI_MS)


def shot(page: Page, name: str) -> None:
    """The viewport in docs/ui/ with LINLI_DOCS_SCREENSHOTS=1 (else beside the other screenshots), in 256 colours."""
    folder = DOCS_UI if os.environ.get("LINLI_DOCS_SCREENSHOTS") == "1" else SCREENSHOTS
    folder.mkdir(parents=True, exist_ok=True)
    with Image.open(io.BytesIO(page.screenshot())) as picture:
        picture.convert("RGB").quantize(256).save(folder / f"{name}.png", optimize=True)


def open_console(page: Page, token: str, path: str = "/console/") -> None:
    page.goto("/console/")  # sessionStorage belongs to the origin: a page of it first
    signed_in(page, token, path)


def test_a_worker_finds_a_ticket_by_a_word_of_its_text_and_by_its_number(
    intake: Intake, desk: tuple[Page, Problems]
) -> None:
    page, _ = desk
    leak = intake.routed("地下车库入口漏水,积水已经没过脚踝", JINQIAO, building="5号楼")
    lamp = intake.routed("楼道灯坏了一个星期", JINQIAO, building="6号楼")
    intake.routed("车库漏水", MEILIN)  # another community: not this worker's to find
    open_console(page, INBOX_WORKER)

    page.fill("#search-q", "漏水")
    page.locator("form.console-search button").click()
    expect(page).to_have_url(re.compile(r"/console/search\?q="))
    rows = page.locator("#search-results tr")
    expect(rows).to_have_count(1, timeout=UI_MS)
    expect(rows.first).to_have_attribute("data-ticket", leak)
    expect(rows.first.locator("mark")).to_have_text("漏水")
    shot(page, "console-search-results")

    page.fill("#search-q", lamp[:8])
    page.locator("form.console-search button").click()
    expect(page.locator("#search-results tr")).to_have_count(1, timeout=UI_MS)
    expect(page.locator("#search-results tr").first).to_have_attribute("data-ticket", lamp)
    expect(page.locator("#search-results")).to_contain_text("工单号")


def test_a_bulk_transfer_moves_two_tickets_and_reports_the_one_its_rules_refuse(
    intake: Intake, desk: tuple[Page, Problems]
) -> None:
    page, _ = desk
    first = intake.routed("小区东门的垃圾桶满了没人清", JINQIAO)
    second = intake.routed("绿化带的树枝挡住了路灯", JINQIAO)
    waiting = intake.routed("楼下有人私拉电线充电", JINQIAO)
    # A question to the resident: the ticket waits for them, a status a transfer refuses (tickets/rules.py).
    question = {"text": "请问是几号楼下面?", "asks_resident": True}
    intake.call("POST", f"/v1/tickets/{waiting}/messages", INBOX_WORKER, question)
    open_console(page, INBOX_WORKER)
    expect(page.locator("#inbox tr")).to_have_count(3, timeout=UI_MS)
    expect(page.locator("#inbox-total")).to_have_text("共 3 件")

    for ticket_id in (first, second, waiting):
        page.locator(f"#inbox tr[data-ticket='{ticket_id}'] input.pick").check()
    expect(page.locator("#bulk-count")).to_have_text("已选 3 件")
    page.select_option("#bulk-action", "transfer")
    page.select_option("#bulk-to", OWNERS)
    page.fill("#bulk-reason", "属于业委会管理的公共区域")
    page.click("#bulk-go")

    results = page.locator("#bulk-results")
    expect(results.locator("li")).to_have_count(3, timeout=UI_MS)
    for ticket_id in (first, second):
        expect(results.locator(f"li[data-ticket='{ticket_id}']")).to_have_class("ok")
        expect(results.locator(f"li[data-ticket='{ticket_id}']")).to_contain_text("已转派")
    refused = results.locator(f"li[data-ticket='{waiting}']")
    expect(refused).to_have_class("error")
    expect(refused).to_have_text(f"{waiting[:8]}:未执行 — 待居民答复的工单不能转派")
    expect(refused).to_have_attribute("title", "a waiting_resident ticket cannot be transferred")
    expect(page.locator("#flash")).to_have_text("2 件已处理,1 件未执行。")
    # The inbox reloads: only the refused ticket is still the property manager's.
    expect(page.locator("#inbox tr")).to_have_count(1, timeout=UI_MS)
    expect(page.locator("#inbox tr").first).to_have_attribute("data-ticket", waiting)
    shot(page, "console-inbox-bulk-transfer")

    for ticket_id in (first, second):
        moved = intake.ticket(ticket_id, worker_token("w-owners", OWNERS, JINQIAO))
        assert (moved["party"], moved["status"]) == (OWNERS, "transferred")
    kept = intake.ticket(waiting, INBOX_WORKER)
    assert (kept["party"], kept["status"]) == (PM, "waiting_resident")


def exported_ids(path: Path) -> list[str]:
    """The 工单编号 column of the workbook's only sheet, under its header."""
    sheet = load_workbook(io.BytesIO(path.read_bytes()), read_only=True).worksheets[0]  # the download has no suffix
    rows = list(sheet.iter_rows(values_only=True))
    column = list(rows[0]).index("工单编号")
    return [str(row[column]) for row in rows[1:]]


def test_the_inbox_view_exported_to_excel_holds_its_tickets_and_the_audit_log_records_it_and_a_phone_read(
    intake: Intake, desk: tuple[Page, Problems]
) -> None:
    page, _ = desk
    # The view: open tickets of 3号楼, newest first. Each other ticket below fails one of its conditions.
    routed = intake.routed("单元门禁坏了,外人随便进出", JINQIAO, at=T0, phone=CALLBACK_PHONE)
    accepted = intake.routed("电梯按钮失灵", JINQIAO, at=T0 + 10 * MINUTE)
    waiting = intake.routed("楼上漏水到我家天花板", JINQIAO, at=T0 + 20 * MINUTE)
    done = intake.routed("路灯不亮", JINQIAO, at=T0 + 30 * MINUTE)
    other_building = intake.routed("7号楼门口的窨井盖松了", JINQIAO, at=T0 + 40 * MINUTE, building="7号楼")
    elsewhere = intake.routed("垃圾房异味很重", MEILIN, at=T0 + 50 * MINUTE)  # another community's
    later = T0 + HOUR
    intake.act(accepted, "accept", INBOX_WORKER, later)
    intake.call("POST", f"/v1/tickets/{waiting}/messages", INBOX_WORKER, {"text": "哪一间?", "asks_resident": True})
    intake.act(done, "accept", INBOX_WORKER, later)
    intake.act(done, "resolve", INBOX_WORKER, later + HOUR, {"resolution": "已更换灯泡"})
    exported_at = T0 + 3 * HOUR
    intake.clock.now = exported_at
    open_console(page, INBOX_WORKER)
    expect(page.locator("#inbox tr")).to_have_count(4, timeout=UI_MS)
    page.select_option("#f-sort", "newest")
    page.fill("#f-building", "3号楼")
    page.locator("#f-building").dispatch_event("change")
    expect(page.locator("#inbox tr")).to_have_count(3, timeout=UI_MS)
    rows = "(rows) => rows.map((row) => row.dataset.ticket)"
    shown = page.locator("#inbox tr").evaluate_all(rows)
    assert shown == [waiting, accepted, routed]

    with page.expect_download() as download:
        page.click("#export-xlsx")
    assert download.value.suggested_filename.endswith(".xlsx")
    ids = exported_ids(Path(download.value.path()))
    assert ids == shown  # the same tickets, in the view's order
    assert not {done, other_building, elsewhere} & set(ids)

    events = intake.call("GET", "/v1/audit?action=export", ADMIN)
    assert isinstance(events, dict)
    (export,) = events["events"]
    assert export["actor"] == f"worker:{INBOX_WORKER_ID}"
    assert datetime.fromisoformat(export["at"]) == exported_at
    assert export["detail"]["rows"] == len(shown)
    assert export["subject"].startswith("inbox:all_open sort=newest")
    assert "building=3号楼" in export["subject"]

    # The resident's callback number, read in full on the ticket's page: a personal-data read, recorded first.
    read_at = exported_at + MINUTE
    intake.clock.now = read_at
    page.goto(f"/console/tickets/{routed}")
    expect(page.locator("#d-contact-masked")).to_have_text("139****0042", timeout=UI_MS)
    page.click("#d-contact-show")
    expect(page.locator("#d-contact-full")).to_have_text(CALLBACK_PHONE)
    reads = intake.call("GET", "/v1/audit?action=personal_data_read", ADMIN)
    assert isinstance(reads, dict)
    (read,) = reads["events"]
    assert (read["actor"], read["detail"]["ticket_id"]) == (f"worker:{INBOX_WORKER_ID}", routed)
    assert datetime.fromisoformat(read["at"]) == read_at
    assert CALLBACK_PHONE not in str(read)


@dataclass(frozen=True)
class Plan:
    """One ticket of the dashboard's week: when it was received, and what happened to it after."""

    community: str
    received_after: timedelta
    accepted_after: timedelta | None = None
    resolved_after: timedelta | None = None
    rating: int | None = None


# The street's two weeks (恒康's tickets in the first, 梅林's in the second), with a ticket of 金桥 (on no street)
# that must count nowhere in them.
PLANS = (
    Plan(HENGKANG, 0 * MINUTE, accepted_after=30 * MINUTE, resolved_after=5 * HOUR, rating=5),
    Plan(HENGKANG, 10 * MINUTE, accepted_after=3 * HOUR, resolved_after=8 * HOUR, rating=4),  # accepted late
    Plan(HENGKANG, 20 * MINUTE, accepted_after=HOUR, resolved_after=6 * HOUR, rating=2),  # not solved: reopens
    Plan(HENGKANG, 30 * MINUTE, accepted_after=120 * MINUTE),  # just in time (<= 2 h), still being handled
    Plan(HENGKANG, 40 * MINUTE),  # never accepted
    Plan(MEILIN, WEEK + 50 * MINUTE, accepted_after=10 * MINUTE, resolved_after=2 * HOUR, rating=5),
    Plan(MEILIN, WEEK + 60 * MINUTE, accepted_after=4 * HOUR, resolved_after=10 * HOUR),  # late, never rated
    Plan(MEILIN, WEEK + 70 * MINUTE, accepted_after=121 * MINUTE, resolved_after=3 * HOUR, rating=4),  # a minute late
    Plan(MEILIN, WEEK + 80 * MINUTE),  # never accepted
    Plan(JINQIAO, WEEK + 90 * MINUTE, accepted_after=5 * MINUTE, resolved_after=HOUR, rating=2),
)
PM_OF = {
    community: worker_token(f"pm-{index}", PM, community)
    for index, community in enumerate(dict.fromkeys(plan.community for plan in PLANS))
}


def carry_out(intake: Intake, plans: tuple[Plan, ...]) -> list[str]:
    """Each plan through the API, its steps in the order of their times (the clock only moves forward)."""
    ids = [
        intake.routed(f"第{n}件:楼道堆放杂物", plan.community, at=T0 + plan.received_after)
        for n, plan in enumerate(plans)
    ]
    steps: list[tuple[timedelta, int, str]] = []
    for index, plan in enumerate(plans):
        start = plan.received_after
        if plan.accepted_after is not None:
            steps.append((start + plan.accepted_after, index, "accept"))
        if plan.resolved_after is not None:
            steps.append((start + plan.resolved_after, index, "resolve"))
            if plan.rating is not None:
                steps.append((start + plan.resolved_after + HOUR, index, "rate"))
    for after, index, step in sorted(steps):
        worker, at = PM_OF[plans[index].community], T0 + after
        if step == "rate":
            intake.rate(ids[index], plans[index].rating or 0, at)
        else:
            intake.act(ids[index], step, worker, at, {"resolution": "已清理"} if step == "resolve" else None)
    return ids


def expected_rates(plans: list[Plan]) -> dict[str, tuple[int, int]]:
    """docs/dashboards.md worked out by hand: 响应率 = accepted within 2 h of receipt over every ticket whose window
    is over (all of them: the dashboards read the wall clock); 解决率 = resolved and not reopened by a rating of 1-2
    over received; 满意率 = rated 4-5 over rated."""
    in_time = [p for p in plans if p.accepted_after is not None and p.accepted_after <= ACCEPT_WINDOW]
    solved = [p for p in plans if p.resolved_after is not None and (p.rating is None or p.rating > 2)]
    rated = [p for p in plans if p.rating is not None]
    return {
        "响应率": (len(in_time), len(plans)),
        "解决率": (len(solved), len(plans)),
        "满意率": (len([p for p in rated if p.rating is not None and p.rating >= 4]), len(rated)),
    }


def test_the_street_office_dashboard_shows_the_three_rates_of_its_communities(
    intake: Intake, desk: tuple[Page, Problems]
) -> None:
    page, _ = desk
    ids = carry_out(intake, PLANS)
    on_street = [plan for plan in PLANS if plan.community != JINQIAO]
    statuses = {
        intake.ticket(ticket_id, PM_OF[plan.community])["status"]
        for ticket_id, plan in zip(ids, PLANS, strict=True)
        if plan.rating == 2
    }
    assert statuses == {"reopened"}  # as expected_rates assumes
    expected = expected_rates(on_street)
    assert expected == {"响应率": (4, 9), "解决率": (5, 9), "满意率": (4, 5)}
    signed_in_at = T0 + 2 * WEEK
    intake.clock.now = signed_in_at

    page.goto("/console/")
    page.fill("#wecom-dev-userid", STREET_USERID)
    page.get_by_role("button", name="企业微信登录").click()
    expect(page.locator("#who")).to_have_text(f"陈科长 {STREET_WORKER_ID}(街道/社区 · 街道 {STREET}(2 个社区))")
    page.click("a[href='/console/dashboard']")
    expect(page.locator("#d-street")).to_have_value(STREET, timeout=UI_MS)
    page.fill("#d-from", "2026-01-05")
    page.fill("#d-to", "2026-01-18")
    page.locator("#d-to").dispatch_event("change")
    expect(page.locator("#dashboard")).to_contain_text("收到工单92 个周期", timeout=UI_MS)
    for name, (numerator, denominator) in expected.items():
        card = page.locator("#dashboard .rate", has=page.locator(".name", has_text=re.compile(f"^{name}$")))
        expect(card.locator(".counts")).to_have_text(f"{numerator} / {denominator}")
        expect(card.locator(".big")).to_have_text(f"{100 * numerator / denominator:.1f}%")
    drawn = page.evaluate("() => Chart.getChart(document.getElementById('rates-chart')).data.datasets.length")
    assert drawn == 6
    page.locator("#d-to").blur()
    page.evaluate("() => window.scrollTo(0, document.getElementById('dashboard').offsetTop - 80)")
    shot(page, "console-dashboard-street")

    logins = intake.call("GET", "/v1/audit?action=login_wecom", ADMIN)
    assert isinstance(logins, dict)
    (login,) = logins["events"]
    assert login["actor"] == f"worker:{STREET_WORKER_ID}"
    assert datetime.fromisoformat(login["at"]) == signed_in_at
