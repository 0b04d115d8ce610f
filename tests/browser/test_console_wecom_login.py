"""The console's 企业微信登录 in a real browser with the development verifier, as `linli dev` offers it: a demo worker
types their WeCom userid, comes back from the callback signed in, and the inbox loads with their name, party and
community and their party's ticket. Intake's HTTP app alone under uvicorn: no retrieval, routing or broker."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, expect

from services.intake.auth.settings import WecomSettings
from services.intake.auth.wecom import create_wecom_login
from services.intake.organisation.demo import seed_demo_organisation
from services.intake.organisation.flows import OrganisationFlows
from services.intake.settings import DEFAULT_COMMUNITIES
from services.intake.tickets.validation import Submission
from tests.browser.conftest import screenshot
from tests.conftest import free_port
from tests.integration.conftest import wait_until
from tests.tokens import environment_codec
from tests.unit.intake.fakes import decision
from tests.unit.intake.organisation.harness import migrated, org_app

FIRST = DEFAULT_COMMUNITIES[0]
COMPLAINT = "3号楼电梯又停了,老人下不了楼"


@pytest.fixture
def console_url(tmp_path: Path) -> Iterator[str]:
    """Intake's app with the dev WeCom login over a store holding the demo organisation and one routed ticket."""
    database = migrated(tmp_path)
    lookup = OrganisationFlows(database).signed_in_worker
    wecom = create_wecom_login(
        WecomSettings(verifier="dev"), environment_codec(), state_key=b"k" * 32, lookup=lookup, host="127.0.0.1"
    )
    with org_app(database, wecom) as org:
        assert seed_demo_organisation(database, DEFAULT_COMMUNITIES)
        view, _ = org.intake.flows.submit(Submission(text=COMPLAINT, community=FIRST, resident_id="r-1"))
        org.intake.triage.record_triage(view.ticket.id, decision("property_manager"))
        port = free_port()
        config = uvicorn.Config(org.client.app, host="127.0.0.1", port=port, log_config=None, access_log=False)
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        wait_until(lambda: server.started, seconds=30, what="uvicorn to start")
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            thread.join(10)


def test_a_demo_worker_signs_in_with_wecom_and_sees_the_inbox(browser: Browser, console_url: str) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN", base_url=console_url)
    page = context.new_page()
    try:
        page.goto("/console/")
        expect(page.locator("#signin")).to_be_visible()
        page.fill("#wecom-dev-userid", "wuye")
        page.get_by_role("button", name="企业微信登录").click()

        expect(page.locator("#who")).to_have_text(f"王师傅(物业) demo-wuye(物业 · {FIRST})")
        assert page.url == f"{console_url}/console/"  # the token left the address bar
        expect(page.locator("#inbox")).to_contain_text(COMPLAINT)
        expect(page.locator("#signin")).to_be_hidden()
        screenshot(page, "console-wecom-login")

        page.click("#signout")
        page.fill("#wecom-dev-userid", "nobody")
        page.get_by_role("button", name="企业微信登录").click()
        expect(page.locator("h1")).to_have_text("企业微信登录失败")
        expect(page.locator("body")).to_contain_text("没有登记为在岗工作人员")
    finally:
        context.close()
