"""Routes of the pages: the H5 page for residents and the console for workers (their JSON endpoints live with their
nouns: answers/, topics/, auth/, tickets/)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from linli.parties import display_name
from services.intake.web.faces import FaceServices

FacesProvider = Callable[[], FaceServices]

if TYPE_CHECKING:
    from services.intake.auth.http import HttpSecurity


# Path → (template, title). Each page is a shell; its script reads and acts through the JSON API.
_PAGES = {
    "/h5/": ("h5_submit.html", "邻里 · 我要反映"),
    "/h5/mine": ("h5_mine.html", "邻里 · 我的反映"),
    "/console/": ("console_inbox.html", "工单收件箱"),
    "/console/manual": ("console_manual.html", "人工分派"),
    "/console/topics": ("console_topics.html", "热点话题"),
    "/console/dashboard": ("console_dashboard.html", "考核指标"),
    "/console/search": ("console_search.html", "搜索工单"),
}


def login_options(request: Request, resident_verifier: str) -> dict[str, object]:
    """How the H5 page logs a resident in: the verifier's name (`dev` or `wechat`), whether SMS login is on, and
    the official account to authorize with inside WeChat's browser (or None)."""
    security: HttpSecurity | None = getattr(request.app.state, "security", None)
    return {
        "login": resident_verifier,
        "sms_login": security is not None and security.sms is not None,
        "wechat_oa": security.web.page_config() if security is not None and security.web is not None else None,
    }


def wecom_options(request: Request) -> dict[str, bool]:
    """Whether the console offers the workers' WeCom login, and whether it is the development one (a userid box)."""
    security: HttpSecurity | None = getattr(request.app.state, "security", None)
    wecom = security.wecom if security is not None else None
    return {"wecom_login": wecom is not None, "wecom_dev": wecom is not None and wecom.is_dev}


def page_routes(faces: FacesProvider, templates_dir: Path) -> APIRouter:
    """The H5 pages under /h5/ and the console under /console/."""
    templates = Jinja2Templates(directory=templates_dir)
    router = APIRouter(include_in_schema=False)

    def render(request: Request, template: str, title: str, **extra: object) -> HTMLResponse:
        built = faces()
        parties = {party_id: info.name for party_id, info in built.catalog.parties.items()}
        short = {party_id: display_name(party_id) for party_id in parties}
        data = {"parties": parties, "party_short": short, **login_options(request, built.resident_login), **extra}
        context = {
            "title": title,
            "communities": built.community_choices(),
            # Inside <script>: "<" escaped so that no value (a ticket id from the URL) can close the element.
            "page_data": json.dumps(data, ensure_ascii=False).replace("<", "\\u003c"),
            **wecom_options(request),
            **extra,
        }
        return templates.TemplateResponse(request, template, context)

    @router.get("/")
    def root() -> RedirectResponse:
        return RedirectResponse("/h5/")

    def page(path: str, template: str, title: str) -> None:
        async def shell(request: Request) -> HTMLResponse:
            return await run_in_threadpool(render, request, template, title)

        router.add_api_route(path, shell, methods=["GET"], response_class=HTMLResponse)

    for path, (template, title) in _PAGES.items():
        page(path, template, title)

    @router.get("/h5/tickets/{ticket_id}", response_class=HTMLResponse)
    async def h5_ticket(request: Request, ticket_id: str) -> HTMLResponse:
        return await run_in_threadpool(render, request, "h5_ticket.html", "邻里 · 办理进度", ticket_id=ticket_id)

    @router.get("/console/tickets/{ticket_id}", response_class=HTMLResponse)
    async def console_ticket(request: Request, ticket_id: str) -> HTMLResponse:
        return await run_in_threadpool(render, request, "console_ticket.html", "工单详情", ticket_id=ticket_id)

    return router
