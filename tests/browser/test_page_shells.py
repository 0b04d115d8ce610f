"""The page shells in process (no browser, no stack): every page renders, assets are served, nothing in the URL can
close the page's data script."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from services.intake.database import Database
from services.intake.settings import IntakeSettings
from services.intake.tickets.context import FlowContext
from services.intake.tickets.flows import TicketFlows
from services.intake.web import mount_faces
from tests.unit.intake.fakes import RecordingTaskQueue, face_services

PAGE_DATA = re.compile(r'<script id="page-data" type="application/json">(.*?)</script>', re.DOTALL)


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    database = Database(f"sqlite:///{tmp_path / 'tickets.sqlite'}")
    app = FastAPI()
    mount_faces(app, face_services(TicketFlows(FlowContext(database, RecordingTaskQueue())), database))
    return TestClient(app)


@pytest.mark.parametrize(
    ("path", "title"),
    [
        ("/h5/", "邻里 · 我要反映"),
        ("/h5/mine", "邻里 · 我的反映"),
        ("/h5/tickets/abc", "邻里 · 办理进度"),
        ("/console/", "工单收件箱"),
        ("/console/manual", "人工分派"),
        ("/console/topics", "热点话题"),
        ("/console/dashboard", "考核指标"),
        ("/console/search?q=漏水", "搜索工单"),
        ("/console/tickets/abc", "工单详情"),
    ],
)
def test_every_page_renders_in_chinese_with_its_data(client: TestClient, path: str, title: str) -> None:
    reply = client.get(path)
    assert reply.status_code == 200
    assert f"<title>{title}</title>" in reply.text
    data = json.loads(PAGE_DATA.findall(reply.text)[0])
    assert data["parties"]["property_manager"] == "物业服务企业"
    assert data["party_short"]["street_office"] == "街道/社区"


def test_the_resident_page_offers_every_community(client: TestClient) -> None:
    page = client.get("/h5/").text
    assert all(f'<option value="{c}">' in page for c in IntakeSettings().known_communities)


def test_my_reports_page_offers_to_erase_my_data(client: TestClient) -> None:
    page = client.get("/h5/mine").text
    assert '<a href="#" id="erase-me">删除我的个人信息</a>' in page
    script = client.get("/static/h5.js").text
    assert 'residentApi("DELETE", "/v1/me")' in script
    assert "confirm(" in script


def test_a_ticket_id_cannot_break_out_of_the_data_script(client: TestClient) -> None:
    # A "/" would not reach the route, but "<!--<script>" alone confuses an HTML parser inside a script element.
    reply = client.get("/h5/tickets/%3C!--%3Cscript%3Ealert(1)")
    assert reply.status_code == 200
    assert "<script>alert(1)" not in reply.text
    assert "<!--" not in reply.text
    assert json.loads(PAGE_DATA.findall(reply.text)[0])["ticket_id"] == "<!--<script>alert(1)"


@pytest.mark.parametrize(
    "asset",
    [
        "linli.css",
        "common.js",
        "h5_login.js",
        "h5.js",
        "console.js",
        "charts.js",
        "photos.js",
        "conversation.js",
        "exports.js",
        "contact.js",
        "dashboard.js",
        "vendor/chart.umd.min.js",
    ],
)
def test_assets_are_served_by_intake_itself(client: TestClient, asset: str) -> None:
    reply = client.get(f"/static/{asset}")
    assert reply.status_code == 200
    assert "http://" not in reply.text.replace("http://www.w3.org/2000/svg", "")  # no CDN


def test_the_dashboard_page_loads_chart_js_from_intake_and_offers_exports(client: TestClient) -> None:
    page = client.get("/console/dashboard").text
    scripts = re.findall(r'<script src="([^"]+)"', page)
    assert scripts == [
        "/static/console_login.js",
        "/static/common.js",
        "/static/vendor/chart.umd.min.js",
        "/static/exports.js",
        "/static/dashboard.js",
        "/static/console.js",
    ]
    assert all(f'<option value="community:{c}">' in page for c in IntakeSettings().known_communities)
    assert 'id="d-export-csv"' in page
    assert 'id="d-export-xlsx"' in page
    inbox = client.get("/console/").text
    assert 'id="export-csv"' in inbox
    assert '<script src="/static/exports.js">' in inbox


def test_every_console_page_has_the_search_box_and_the_search_page_its_script(client: TestClient) -> None:
    for path in ("/console/", "/console/manual", "/console/topics", "/console/tickets/abc", "/console/search"):
        page = client.get(path).text
        assert '<form class="console-search" action="/console/search" method="get" role="search">' in page
    search_page = client.get("/console/search?q=漏水").text
    assert search_page.index("/static/search.js") < search_page.index("/static/console.js")
    script = client.get("/static/search.js")
    assert script.status_code == 200
    assert "/v1/search/tickets" in script.text


def test_the_ticket_page_offers_the_callback_phone_and_the_h5_form_asks_for_it(client: TestClient) -> None:
    ticket = client.get("/console/tickets/abc").text
    assert 'id="d-contact-show"' in ticket
    assert "查看联系电话" in ticket
    assert '<script src="/static/contact.js">' in ticket
    form = client.get("/h5/").text
    assert 'id="contact-phone"' in form
    assert 'type="tel"' in form
    assert "body.contact_phone" in client.get("/static/h5.js").text
    assert "/contact`" in client.get("/static/contact.js").text
