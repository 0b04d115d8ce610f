"""What residents and workers do, in a real browser over the real stack: submit, answer, accept, resolve, rate,
dispatch, split one message's second problem off, erase one's data, hot topics and the residents' meeting. Each main
screen is saved under test-output/screenshots/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, Route, expect

from linli.v1 import routing_pb2
from services.intake.auth import Worker
from services.intake.tickets.context import FlowContext
from services.intake.tickets.flows import TicketFlows
from services.intake.tickets.sweeps import SweepFlows
from services.intake.tickets.validation import Submission
from services.intake.triage.flows import TriageFlows
from tests.browser.conftest import Stack, screenshot
from tests.integration.conftest import wait_until
from tests.tokens import as_resident as resident
from tests.tokens import bearer, worker_token

pytestmark = pytest.mark.integration

TRIAGE_SECONDS = 60.0
UI_MS = 30_000  # triage runs in the worker: the page polls until it is done
COMMUNITY = "恒康居民区"
STAIRWELL = "3号楼2单元楼道的灯坏了一个多星期了,晚上上下楼黑漆漆的,老人容易摔跤"
FAQ = "小区里流浪猫狗越来越多,谁来管?"
PARKING_CLAUSE = "外来车辆不得在小区内过夜停放,业主车辆按划线车位停放。"
# Console tokens, as `linli token issue` would print them for this community's property manager and dispatcher.
PROPERTY_MANAGER = worker_token("w-pm", "property_manager", COMMUNITY)
DISPATCHER = worker_token("d-1", "street_office", COMMUNITY, "dispatcher")


class NoQueue:
    """A queue that drops tasks: the ticket it is used for goes to the manual queue by hand."""

    def enqueue_triage(self, ticket_id: str) -> None:
        """Drops the task."""

    def enqueue_case_sync(self, ticket_id: str) -> None:
        """Drops the task."""


def api_ticket(stack: Stack, ticket_id: str, resident_id: str) -> dict[str, Any]:
    """The ticket as its resident reads it over the API."""
    body: dict[str, Any] = stack.intake.http.get(f"/v1/tickets/{ticket_id}", headers=resident(resident_id)).json()
    return body


def routed_ticket(stack: Stack, resident_id: str, text: str, building: str) -> str:
    """A ticket submitted over the API and triaged by the worker (in its own building: no duplicate of another)."""
    reply = stack.intake.http.post(
        "/v1/tickets",
        json={"text": text, "community": COMMUNITY, "building": building},
        headers=resident(resident_id),
    )
    assert reply.status_code == 201, reply.text
    ticket_id = str(reply.json()["id"])
    wait_until(
        lambda: api_ticket(stack, ticket_id, resident_id)["status"] != "received",
        seconds=TRIAGE_SECONDS,
        what="triage",
    )
    ticket = api_ticket(stack, ticket_id, resident_id)
    assert ticket["status"] in ("routed", "merged"), [(e["kind"], e["note"]) for e in ticket["events"]]
    return ticket_id


def as_resident(page: Page, resident_id: str) -> None:
    """The openid the page logs in with (the development verifier takes `dev:<openid>`)."""
    page.context.add_init_script(f"localStorage.setItem('linli.resident', {resident_id!r})")


def sign_in(page: Page, token: str) -> None:
    page.goto("/console/")
    expect(page.locator("#signin")).to_be_visible()
    page.fill("#token", token)
    page.click("#signin-button")
    expect(page.locator("#who")).not_to_be_empty()


def test_resident_submits_and_sees_the_routed_party(phone: Page, stack: Stack) -> None:
    phone.goto("/h5/")
    phone.select_option("#community", COMMUNITY)
    phone.fill("#building", "3号楼")
    phone.fill("#text", STAIRWELL)
    screenshot(phone, "h5-submit")
    phone.click("#submit")
    phone.wait_for_url("**/h5/tickets/*")
    expect(phone.locator("#routed-party")).to_contain_text("物业", timeout=UI_MS)
    expect(phone.locator("#timeline")).to_contain_text("已交给物业办理")
    expect(phone.locator("#timeline")).to_contain_text("已办结案例")  # why, in plain words
    # A neighbour in the same building reports the same light: the first resident is told.
    neighbour = routed_ticket(stack, "h5-neighbour", "3号楼2单元楼道灯坏了一个多星期,晚上下楼黑漆漆的", "3号楼")
    assert api_ticket(stack, neighbour, "h5-neighbour")["status"] == "merged"
    phone.reload()
    expect(phone.locator("#neighbours")).to_have_text("1 位邻居也反映了这个问题")
    screenshot(phone, "h5-ticket-routed")

    phone.click("#nav-mine")
    expect(phone.locator("#mine li")).to_have_count(1)
    expect(phone.locator("#mine")).to_contain_text("楼道的灯坏了")
    screenshot(phone, "h5-mine")


def test_a_resident_can_attach_where_the_problem_is(phone: Page, stack: Stack) -> None:
    phone.context.grant_permissions(["geolocation"], origin=stack.url)
    phone.context.set_geolocation({"latitude": 31.2304, "longitude": 121.4737})
    as_resident(phone, "h5-resident-point")
    phone.goto("/h5/")
    phone.select_option("#community", COMMUNITY)
    phone.fill("#building", "12号楼")
    phone.fill("#text", "12号楼东侧的路灯杆被车撞歪了,晚上路过很危险")
    phone.check("#attach-point")
    expect(phone.locator("#point-status")).to_have_text("已附上位置。")
    phone.click("#submit")
    phone.wait_for_url("**/h5/tickets/*")
    ticket_id = phone.url.rsplit("/", 1)[-1]
    assert api_ticket(stack, ticket_id, "h5-resident-point")["location"] == {"latitude": 31.2304, "longitude": 121.4737}


def test_without_permission_the_form_says_so_and_sends_no_point(phone: Page, stack: Stack) -> None:
    phone.context.clear_permissions()
    phone.goto("/h5/")
    phone.click("#attach-point")  # not check(): the refusal may untick it before check() looks
    expect(phone.locator("#point-status")).to_contain_text("没有拿到位置")
    expect(phone.locator("#attach-point")).not_to_be_checked()


def test_instant_answer_is_shown_first_and_still_submit_is_one_tap(phone: Page, stack: Stack) -> None:
    phone.goto("/h5/")
    phone.select_option("#community", COMMUNITY)
    phone.fill("#text", FAQ)
    phone.click("#submit")
    expect(phone.locator("#answer")).to_be_visible(timeout=UI_MS)
    expect(phone.locator("#answer-party")).to_have_text("街道办事处/社区居委会")
    expect(phone.locator("#answer-text")).not_to_be_empty()
    expect(phone.locator("#answer-count")).to_contain_text("件相似问题办结")  # a count, no neighbour's complaint
    expect(phone.locator("#answer-basis")).to_contain_text("流浪")
    screenshot(phone, "h5-instant-answer")
    phone.click("#still-submit")
    phone.wait_for_url("**/h5/tickets/*")
    expect(phone.locator("#ticket-text")).to_have_text(FAQ)


def test_worker_accepts_edits_the_suggestion_resolves_and_the_resident_rates(
    desk: Page, phone: Page, stack: Stack
) -> None:
    resident = "h5-resident-rates"
    ticket_id = routed_ticket(stack, resident, "7号楼楼道的灯坏了好几天,晚上上下楼看不见台阶", "7号楼")
    routed = api_ticket(stack, ticket_id, resident)
    assert (routed["status"], routed["party"]) == ("routed", "property_manager")

    sign_in(desk, PROPERTY_MANAGER)
    row = desk.locator(f"tr[data-ticket='{ticket_id}']")
    expect(row).to_be_visible()
    screenshot(desk, "console-inbox")
    row.locator("a").click()
    desk.wait_for_url(f"**/console/tickets/{ticket_id}")
    expect(desk.locator("#d-rationale")).to_contain_text("已办结案例")
    expect(desk.locator("#d-similar li").first).to_be_visible()
    suggestion = desk.locator("#resolution")
    expect(suggestion).not_to_have_value("")
    desk.click("#accept")
    expect(desk.locator("#flash")).to_have_text("已受理。")
    edited = suggestion.input_value() + "已电话回访居民,确认灯已亮。"
    suggestion.fill(edited)
    screenshot(desk, "console-ticket")
    desk.click("#resolve")
    expect(desk.locator("#flash")).to_contain_text("已办结")
    resolved = api_ticket(stack, ticket_id, resident)
    assert (resolved["status"], resolved["resolution"]) == ("resolved", edited.strip())

    as_resident(phone, resident)
    phone.goto(f"/h5/tickets/{ticket_id}")
    expect(phone.locator("#rate")).to_be_visible()
    expect(phone.locator("#timeline")).to_contain_text("确认灯已亮")
    phone.click(".star[data-score='5']")
    phone.fill("#rate-comment", "修得很快,谢谢")
    screenshot(phone, "h5-rate")
    phone.click("#rate-submit")
    expect(phone.locator("#status")).to_have_text("已关闭")
    rated = api_ticket(stack, ticket_id, resident)
    assert (rated["status"], rated["rating"]) == ("closed", 5)


def test_a_ticket_closed_for_want_of_a_rating_can_still_be_rated(phone: Page, stack: Stack) -> None:
    resident = "h5-resident-late"
    ticket_id = routed_ticket(stack, resident, "11号楼电梯按钮失灵,按了没反应", "11号楼")
    flows = TicketFlows(FlowContext(stack.database, NoQueue()))
    worker = Worker("w-pm", "property_manager", COMMUNITY)
    flows.accept(ticket_id, worker)
    flows.resolve(ticket_id, worker, resolution="已更换11号楼电梯外呼按钮。")
    eight_days_on = datetime.now(UTC) + timedelta(days=8)
    SweepFlows(FlowContext(stack.database, NoQueue(), clock=lambda: eight_days_on)).close_unrated()
    closed = api_ticket(stack, ticket_id, resident)
    assert (closed["status"], closed["rating"]) == ("closed", 0)

    as_resident(phone, resident)
    phone.goto(f"/h5/tickets/{ticket_id}")
    expect(phone.locator("#status")).to_have_text("已关闭")
    expect(phone.locator("#rate")).to_be_visible()
    phone.click(".star[data-score='4']")
    phone.click("#rate-submit")
    expect(phone.locator("#rate")).to_be_hidden()
    assert api_ticket(stack, ticket_id, resident)["rating"] == 4


def test_dispatcher_routes_a_needs_manual_ticket(desk: Page, stack: Stack) -> None:
    # Routing stayed down through the retries: the ticket waits for a person (as the worker would record it).
    context = FlowContext(stack.database, NoQueue())
    view, _ = TicketFlows(context).submit(
        Submission(
            text="小区东门外的人行道上堆了很多建筑垃圾,下雨天全是泥", community=COMMUNITY, resident_id="r-manual"
        )
    )
    assert TriageFlows(context).send_to_manual(view.ticket.id, reason="routing unavailable after 2 retries")

    sign_in(desk, DISPATCHER)
    desk.goto("/console/manual")
    row = desk.locator(f"tr[data-ticket='{view.ticket.id}']")
    expect(row).to_be_visible()
    row.locator("select").select_option("street_office")
    screenshot(desk, "console-manual-queue")
    row.locator("button.dispatch").click()
    expect(desk.locator("#flash")).to_contain_text("已分派给街道/社区")
    expect(row).to_have_count(0)
    dispatched = api_ticket(stack, view.ticket.id, "r-manual")
    assert (dispatched["status"], dispatched["party"]) == ("routed", "street_office")
    assert dispatched["events"][-1]["kind"] == "dispatched"


def test_a_worker_splits_a_second_problem_off_and_the_resident_follows_it(
    desk: Page, phone: Page, stack: Stack
) -> None:
    resident, fire_lane = "h5-two-problems", "小区北门口总有车停在消防通道上"
    context = FlowContext(stack.database, NoQueue())
    view, _ = TicketFlows(context).submit(
        Submission(
            text=f"12号楼楼道灯坏了好几天了,另外{fire_lane}",
            community=COMMUNITY,
            resident_id=resident,
            building="12号楼",
        )
    )
    origin_id = view.ticket.id
    # Routing decided for the first problem and saw the second, as it reports one message with two problems.
    routed_for_the_light = routing_pb2.RoutingDecision(
        party="property_manager",
        confidence=0.9,
        rationale=routing_pb2.Rationale(summary="权责清单:楼道灯等共用照明损坏"),
    )
    routed_for_the_light.other_issues.add(
        entry=routing_pb2.CatalogMatch(
            entry_id="fire_lane_blocked", name="消防通道被占", score=0.6, party="street_office"
        ),
        excerpt=fire_lane,
    )
    TriageFlows(context).record_triage(origin_id, routed_for_the_light)

    sign_in(desk, PROPERTY_MANAGER)
    # The inbox says the message holds a problem nobody has split off yet.
    expect(desk.locator(f"tr[data-ticket='{origin_id}'] .other-issues")).to_have_text("另有1个问题")
    desk.goto(f"/console/tickets/{origin_id}")
    section = desk.locator("#other-issues")
    expect(section).to_contain_text("这条留言还反映了")
    expect(section.locator("li")).to_have_count(1)
    expect(section).to_contain_text("消防通道被占(街道/社区)")
    passage = section.locator("textarea")
    expect(passage).to_have_value(fire_lane)
    passage.fill(f"{fire_lane},晚上尤其多")
    section.locator("button.split").click()
    expect(desk.locator("#flash")).to_have_text("已拆分为新工单,系统正在为它分派。")
    split_id = section.locator(".split-done a").inner_text()
    expect(desk.locator("#d-splits")).to_contain_text(split_id)
    expect(section.locator("button.split")).to_be_disabled()
    expect(desk.locator("#d-events")).to_contain_text("拆分出新工单")
    screenshot(desk, "console-split")
    desk.goto("/console/")
    expect(desk.locator(f"tr[data-ticket='{origin_id}']")).to_be_visible()
    expect(desk.locator(f"tr[data-ticket='{origin_id}'] .other-issues")).to_have_count(0)
    split = api_ticket(stack, split_id, resident)
    assert (split["text"], split["split_from_ticket_id"], split["building"]) == (
        f"{fire_lane},晚上尤其多",
        origin_id,
        "12号楼",
    )
    # Queued like a submission: the running worker triages it, and it is the new party's to open.
    wait_until(
        lambda: api_ticket(stack, split_id, resident)["status"] != "received", seconds=TRIAGE_SECONDS, what="triage"
    )
    triaged = api_ticket(stack, split_id, resident)
    manual = triaged["status"] == "needs_manual"
    desk.click("#signout")
    sign_in(desk, DISPATCHER if manual else worker_token("w-split", triaged["party"], COMMUNITY))
    desk.goto(f"/console/tickets/{split_id}")
    expect(desk.locator("#d-split-from")).to_contain_text(origin_id)

    as_resident(phone, resident)
    phone.goto("/h5/mine")
    expect(phone.locator("#mine li")).to_have_count(2)
    phone.locator(f"a[href='/h5/tickets/{split_id}']").click()
    expect(phone.locator("#ticket-text")).to_have_text(f"{fire_lane},晚上尤其多")
    expect(phone.locator("#timeline")).to_contain_text("从您的一条反映中单独立单办理")


def test_a_resident_erases_their_data_and_the_problem_is_still_handled(phone: Page, stack: Stack) -> None:
    ticket_id = routed_ticket(stack, "h5-leaving", "7号楼门口的垃圾桶满了好几天没人清,我的电话13812345678", "7号楼")
    party = api_ticket(stack, ticket_id, "h5-leaving")["party"]
    as_resident(phone, "h5-leaving")
    phone.goto("/h5/mine")
    expect(phone.locator("#mine li")).to_have_count(1)
    phone.once("dialog", lambda dialog: dialog.accept())  # the confirm() says the reports stay and are handled
    phone.click("#erase-me")
    expect(phone.locator("#erase-status")).to_have_text("已删除:1 条反映不再与您关联。")
    expect(phone.locator("#mine li")).to_have_count(0)
    screenshot(phone, "h5-erased")
    # The old token is refused; the worker still has the ticket, without the phone number or the openid.
    assert stack.intake.http.get(f"/v1/tickets/{ticket_id}", headers=resident("h5-leaving")).status_code in (401, 404)
    worker = bearer(worker_token("w-kept", party, COMMUNITY))
    kept = stack.intake.http.get(f"/v1/tickets/{ticket_id}", headers=worker).json()
    assert kept["status"] == "routed"
    assert "13812345678" not in kept["text"]
    assert "h5-leaving" not in str(kept)


def test_hot_topics_are_charted(desk: Page, phone: Page, stack: Stack) -> None:
    routed_ticket(stack, "h5-topics", "5号楼楼道灯不亮了,声控也没反应", "5号楼")
    # Five households, five separate parking problems this week: a matter for the residents' meeting.
    context = FlowContext(stack.database, NoQueue())
    for n in range(5):
        submitted = Submission(
            text=f"{n + 20}号楼下面车乱停,晚上回来没车位", community=COMMUNITY, resident_id=f"h5-parking-{n}"
        )
        view, _ = TicketFlows(context).submit(submitted)
        parking = routing_pb2.RoutingDecision(
            party="property_manager",
            confidence=0.9,
            category="parking_order_inside",
            rationale=routing_pb2.Rationale(catalog_entry=routing_pb2.CatalogMatch(entry_id="parking_order_inside")),
        )
        TriageFlows(context).record_triage(view.ticket.id, parking)
    sign_in(desk, DISPATCHER)
    desk.goto("/console/topics")
    expect(desk.locator("#meeting")).to_contain_text("5 位居民反映")
    expect(desk.locator("#t-summary")).to_contain_text(COMMUNITY)
    bars = desk.locator("#topic-chart svg text.label")
    expect(bars.first).to_be_visible()
    expect(desk.locator("#topic-chart")).to_contain_text("楼道灯")
    expect(desk.locator("#trend-chart svg rect")).to_have_count(8)
    screenshot(desk, "console-topics")

    # 议事: the suggested topic goes to the residents' meeting, gets a time and a decision, and residents see it.
    desk.locator("#meeting li[data-topic='parking_order_inside'] button.propose").click()
    proposed = desk.locator("#meeting-items li[data-status='proposed']")
    expect(proposed).to_contain_text("小区内停车秩序")
    expect(proposed).to_contain_text("5 位居民反映")
    proposed.locator("input.meeting-at").fill("2026-12-10T19:00")
    proposed.locator("button.schedule").click()
    scheduled = desk.locator("#meeting-items li[data-status='scheduled']")
    expect(scheduled).to_contain_text("议事时间 12月10日 19:00")
    scheduled.locator("input.outcome-text").fill(PARKING_CLAUSE)
    scheduled.locator("button.decide").click()
    expect(desk.locator("#meeting-items li[data-status='decided']")).to_contain_text(PARKING_CLAUSE)
    screenshot(desk, "console-meeting-items")
    public = stack.intake.http.get(
        "/v1/meetings/public", params={"community": COMMUNITY}, headers=resident("h5-parking-0")
    ).json()
    assert [(d["title"], d["outcome"], d["residents"]) for d in public["decisions"]] == [
        ("小区内停车秩序", PARKING_CLAUSE, 5)
    ]
    as_resident(phone, "h5-parking-0")
    # The form's first community is asked for at load; its answer is held back until the picked one's is shown, as a
    # slow network may deliver it: it must not replace the picked community's list (it did, in a loaded suite run).
    held: list[Route] = []
    phone.route(lambda url: _decisions_of(url) not in ("", COMMUNITY), lambda route: held.append(route))
    phone.goto("/h5/mine")
    phone.select_option("#decisions-community", COMMUNITY)
    decision = phone.locator("#decisions li")
    expect(decision).to_have_count(1)
    assert held, "the first community's list was not asked for first"
    for route in held:
        route.continue_()
    phone.wait_for_timeout(300)
    expect(decision).to_have_count(1)
    expect(decision).to_contain_text("小区内停车秩序")
    expect(decision).to_contain_text(PARKING_CLAUSE)
    expect(decision).to_contain_text("5 位居民反映")
    screenshot(phone, "h5-meeting-decisions")


def _decisions_of(url: str) -> str:
    """The community a request for meeting decisions asks about ('' for any other request)."""
    parts = urlsplit(url)
    return parse_qs(parts.query).get("community", [""])[0] if parts.path == "/v1/meetings/public" else ""


def test_a_bad_token_is_refused_and_the_form_says_why(desk: Page, phone: Page, stack: Stack) -> None:
    desk.goto("/console/")
    desk.fill("#token", "not-a-token")
    desk.click("#signin-button")
    expect(desk.locator("#signin-error")).to_have_text("令牌无效或已过期,请向管理员重新申请。")
    screenshot(desk, "console-signin")

    phone.goto("/h5/")
    phone.fill("#text", "灯")
    phone.click("#submit")
    expect(phone.locator("#form-error")).to_contain_text("至少写两个字")


def test_a_resident_cannot_open_a_neighbours_ticket(phone: Page, stack: Stack) -> None:
    ticket_id = routed_ticket(stack, "h5-owner", "9号楼门口的垃圾桶满了两天没人清", "9号楼")
    as_resident(phone, "h5-stranger")
    phone.goto(f"/h5/tickets/{ticket_id}")
    expect(phone.locator("#ticket-error")).to_have_text("没有找到这条反映。")
    expect(phone.locator("#ticket-text")).to_be_empty()
    phone.goto("/h5/mine")
    expect(phone.locator("#mine-empty")).to_be_visible()
