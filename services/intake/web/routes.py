"""Routes of the pages (H5 for residents, console for workers) and of the endpoints only they need."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from linli.errors import PermissionDenied
from linli.parties import display_name
from services.intake.answers.flows import AnswerOutcome
from services.intake.auth.access import require_resident_or_worker
from services.intake.auth.http import CallerDep, WorkerDep
from services.intake.topics.flows import Topic, TopicReport

if TYPE_CHECKING:
    from services.intake.web import FaceServices

FacesProvider = Callable[[], "FaceServices"]


class AskBody(BaseModel):
    """A resident's text before it becomes a ticket."""

    model_config = ConfigDict(extra="forbid", strict=True)

    text: str = Field(description="What the resident typed, 2-2,000 characters.", examples=["楼道灯坏了归谁管?"])
    community: str = Field(description="Residential community, one linli serves.", examples=["恒康居民区"])


class PrecedentOut(BaseModel):
    """The resolved case the answer comes from (scrubbed of personal data)."""

    case_id: str
    complaint: str
    resolution: str
    score: float


class EntryOut(BaseModel):
    """The responsibility-catalog entry the question is about."""

    entry_id: str
    name: str
    party: str
    basis: str
    sla_hours: int


class InstantAnswerOut(BaseModel):
    """What to show before the resident submits."""

    text: str = Field(description="What was done last time, scrubbed.")
    party: str
    party_name: str
    precedent: PrecedentOut
    catalog_entry: EntryOut | None


class AnswerOut(BaseModel):
    """An instant answer, or why there is none (then the page submits the ticket as usual)."""

    answered: bool
    reason: str = Field(description="not_a_question, no_confident_precedent, catalog_disagrees, retrieval_unavailable")
    answer: InstantAnswerOut | None


class TopicOut(BaseModel):
    """One topic's reports this week and the week before."""

    key: str
    name: str
    party: str
    party_name: str
    count: int
    previous_count: int
    rise: int
    residents: int = Field(description="Distinct residents who raised it this week.")
    meeting_suggested: bool = Field(
        description="Raised by many residents (LINLI_INTAKE_MEETING_MIN_RESIDENTS) in separate problems: a matter for "
        "the residents' meeting (议事协商) rather than one repair."
    )


class WeekTotalOut(BaseModel):
    """All reports of one week."""

    week: str
    count: int


class TopicReportOut(BaseModel):
    """A community's hot topics in one ISO week."""

    community: str
    week: str
    start: str
    end: str
    total: int
    previous_total: int
    topics: list[TopicOut]
    rising: list[TopicOut]
    trend: list[WeekTotalOut]


class WorkerOut(BaseModel):
    """The signed-in worker, as the console shows them."""

    worker_id: str
    party: str
    party_name: str
    community: str
    role: str


def answer_out(outcome: AnswerOutcome) -> AnswerOut:
    """The API form of an answer outcome."""
    found = outcome.answer
    if found is None:
        return AnswerOut(answered=False, reason=outcome.reason.value if outcome.reason else "", answer=None)
    entry = found.entry
    return AnswerOut(
        answered=True,
        reason="",
        answer=InstantAnswerOut(
            text=found.text,
            party=found.party,
            party_name=found.party_name,
            precedent=PrecedentOut(
                case_id=found.precedent.case_id,
                complaint=found.precedent.complaint,
                resolution=found.precedent.resolution,
                score=round(found.precedent.score, 4),
            ),
            catalog_entry=EntryOut(
                entry_id=entry.id, name=entry.name, party=entry.party, basis=entry.basis, sla_hours=entry.sla_hours
            )
            if entry
            else None,
        ),
    )


def report_out(report: TopicReport) -> TopicReportOut:
    """The API form of a topic report."""

    def topic(t: Topic) -> TopicOut:
        return TopicOut(
            key=t.key,
            name=t.name,
            party=t.party,
            party_name=t.party_name,
            count=t.count,
            previous_count=t.previous_count,
            rise=t.rise,
            residents=t.residents,
            meeting_suggested=t.meeting_suggested,
        )

    return TopicReportOut(
        community=report.community,
        week=str(report.week),
        start=report.week.start.isoformat(),
        end=report.week.end.isoformat(),
        total=report.total,
        previous_total=report.previous_total,
        topics=[topic(t) for t in report.topics],
        rising=[topic(t) for t in report.rising],
        trend=[WeekTotalOut(week=str(w.week), count=w.count) for w in report.trend],
    )


def api_routes(faces: FacesProvider) -> APIRouter:
    """POST /v1/answers (residents and workers), GET /v1/topics and GET /v1/workers/me (workers)."""
    router = APIRouter(prefix="/v1")

    @router.post("/answers", response_model=AnswerOut, tags=["answers"])
    def ask(body: AskBody, caller: CallerDep) -> AnswerOut:
        """An instant answer from a confidently similar resolved case, when the text is a question; stores nothing.

        Needs a resident's or a worker's token: the precedents are scrubbed, but not for anonymous scraping.
        """
        require_resident_or_worker(caller)
        return answer_out(faces().answerer.answer(body.text, body.community))

    @router.get("/topics", response_model=TopicReportOut, tags=["topics"])
    def topics(worker: WorkerDep, community: str, week: str = "") -> TopicReportOut:
        """What a community's residents raised most in an ISO week (`2026-W47`; default this week), and what rose.

        For workers of the community (a worker serving every community may ask for any).
        """
        if not worker.serves(community):
            raise PermissionDenied(f"worker {worker.worker_id} does not serve {community}")
        return report_out(faces().topics.report(community, week))

    @router.get("/workers/me", response_model=WorkerOut, tags=["workers"])
    def me(worker: WorkerDep) -> WorkerOut:
        """Who the bearer token stands for."""
        return WorkerOut(
            worker_id=worker.worker_id,
            party=worker.party,
            party_name=display_name(worker.party),
            community=worker.community,
            role=worker.role.value,
        )

    return router


# Path → (template, title). Each page is a shell; its script reads and acts through the JSON API.
_PAGES = {
    "/h5/": ("h5_submit.html", "邻里 · 我要反映"),
    "/h5/mine": ("h5_mine.html", "邻里 · 我的反映"),
    "/console/": ("console_inbox.html", "工单收件箱"),
    "/console/manual": ("console_manual.html", "人工分派"),
    "/console/topics": ("console_topics.html", "热点话题"),
}


def page_routes(faces: FacesProvider, templates_dir: Path) -> APIRouter:
    """The H5 pages under /h5/ and the console under /console/."""
    templates = Jinja2Templates(directory=templates_dir)
    router = APIRouter(include_in_schema=False)

    def render(request: Request, template: str, title: str, **extra: object) -> HTMLResponse:
        built = faces()
        parties = {party_id: info.name for party_id, info in built.catalog.parties.items()}
        short = {party_id: display_name(party_id) for party_id in parties}
        context = {
            "title": title,
            "communities": built.settings.known_communities,
            # Inside <script>: "<" escaped so that no value (a ticket id from the URL) can close the element.
            "page_data": json.dumps(
                {"parties": parties, "party_short": short, "login": built.resident_login, **extra}, ensure_ascii=False
            ).replace("<", "\\u003c"),
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
