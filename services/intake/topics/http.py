"""Route of hot topics: GET /v1/topics, for workers of the community."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter
from pydantic import BaseModel, Field

from linli.errors import PermissionDenied
from services.intake.auth.http import WorkerDep
from services.intake.topics.flows import Topic, TopicFlows, TopicReport


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


def topic_out(topic: Topic) -> TopicOut:
    """The API form of one topic."""
    return TopicOut(
        key=topic.key,
        name=topic.name,
        party=topic.party,
        party_name=topic.party_name,
        count=topic.count,
        previous_count=topic.previous_count,
        rise=topic.rise,
        residents=topic.residents,
        meeting_suggested=topic.meeting_suggested,
    )


def report_out(report: TopicReport) -> TopicReportOut:
    """The API form of a topic report."""
    return TopicReportOut(
        community=report.community,
        week=str(report.week),
        start=report.week.start.isoformat(),
        end=report.week.end.isoformat(),
        total=report.total,
        previous_total=report.previous_total,
        topics=[topic_out(t) for t in report.topics],
        rising=[topic_out(t) for t in report.rising],
        trend=[WeekTotalOut(week=str(w.week), count=w.count) for w in report.trend],
    )


def topic_routes(topic_flows: Callable[[], TopicFlows]) -> APIRouter:
    """GET /v1/topics; `topic_flows` gives the TopicFlows (built on first use, when settings are read)."""
    router = APIRouter(prefix="/v1", tags=["topics"])

    @router.get("/topics", response_model=TopicReportOut)
    def topics(worker: WorkerDep, community: str, week: str = "") -> TopicReportOut:
        """What a community's residents raised most in an ISO week (`2026-W47`; default this week), and what rose.

        For workers of the community (a worker serving every community may ask for any).
        """
        if not worker.serves(community):
            raise PermissionDenied(f"worker {worker.worker_id} does not serve {community}")
        return report_out(topic_flows().report(community, week))

    return router
