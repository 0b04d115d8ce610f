"""The /v1/meetings routes: workers put hot topics to the residents' meeting and record what it decided; residents
read the decisions (全透明)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from linli.errors import PermissionDenied
from services.intake.auth.access import require_resident_or_worker
from services.intake.auth.http import CallerDep, WorkerDep
from services.intake.meetings.flows import MeetingFlows
from services.intake.meetings.models import MeetingItem, MeetingStatus

MeetingFlowsProvider = Callable[[], MeetingFlows]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ProposeBody(_Body):
    """Put a hot topic to the residents' meeting."""

    community: str = Field(description="The community whose residents raised it.", examples=["恒康居民区"])
    topic_key: str = Field(description="The topic's key in GET /v1/topics: a catalog entry id, or `other`.")
    title: str = Field(description="What the meeting is to settle, up to 128 characters.", examples=["小区停车秩序"])
    week: str = Field("", description="The ISO week whose counts are the evidence (`2026-W47`; default this week).")


class ScheduleBody(_Body):
    """Set or move the meeting's time."""

    meeting_at: datetime = Field(strict=False, description="With its time zone.", examples=["2026-12-10T19:00+08:00"])


class DecideBody(_Body):
    """Record the meeting's decision."""

    outcome: str = Field(description="The decision, e.g. the 居民公约 clause, 2-2,000 characters.")


class DropBody(_Body):
    """Take the item off the agenda."""

    reason: str = Field(description="Why, 2-2,000 characters.")


class MeetingItemOut(BaseModel):
    """A matter before (or settled by) the residents' meeting, for workers."""

    id: str
    community: str
    topic_key: str
    title: str
    status: MeetingStatus
    week: str = Field(description="The ISO week whose counts were the evidence.")
    residents: int = Field(description="Residents who raised the topic that week.")
    reports: int = Field(description="Reports that raised it that week.")
    proposed_by: str
    proposed_at: datetime
    meeting_at: datetime | None
    outcome: str
    decided_at: datetime | None
    reason: str
    updated_by: str
    updated_at: datetime


class MeetingItemListOut(BaseModel):
    """A community's meeting items, newest proposal first."""

    items: list[MeetingItemOut]


class PublicDecisionOut(BaseModel):
    """A decision of the residents' meeting as residents read it: no names, no ids of people."""

    title: str
    outcome: str
    meeting_at: datetime | None
    decided_at: datetime | None
    week: str
    residents: int = Field(description="Residents who raised the matter in the week it was proposed.")
    reports: int = Field(description="Reports that raised it that week.")


class PublicDecisionListOut(BaseModel):
    """A community's decided items, newest proposal first."""

    decisions: list[PublicDecisionOut]


def item_out(item: MeetingItem) -> MeetingItemOut:
    """The item as workers see it."""
    return MeetingItemOut(
        id=item.id,
        community=item.community,
        topic_key=item.topic_key,
        title=item.title,
        status=MeetingStatus(item.status),
        week=item.week,
        residents=item.residents,
        reports=item.reports,
        proposed_by=item.proposed_by,
        proposed_at=item.proposed_at,
        meeting_at=item.meeting_at,
        outcome=item.outcome,
        decided_at=item.decided_at,
        reason=item.reason,
        updated_by=item.updated_by,
        updated_at=item.updated_at,
    )


def decision_out(item: MeetingItem) -> PublicDecisionOut:
    """A decided item as residents see it."""
    return PublicDecisionOut(
        title=item.title,
        outcome=item.outcome,
        meeting_at=item.meeting_at,
        decided_at=item.decided_at,
        week=item.week,
        residents=item.residents,
        reports=item.reports,
    )


def meeting_routes(meetings: MeetingFlowsProvider) -> APIRouter:
    """The /v1/meetings routes; `meetings` gives the flows (built on first use, with the hot topics)."""
    router = APIRouter(prefix="/v1/meetings", tags=["meetings"])

    @router.post("", status_code=status.HTTP_201_CREATED, response_model=MeetingItemOut)
    def propose(body: ProposeBody, worker: WorkerDep) -> MeetingItemOut:
        """A worker of the street office or the owners' committee (or the dispatcher) of the community puts a topic
        its residents raised to the meeting, with that week's counts as evidence; 409 while the topic is open."""
        return item_out(meetings().propose(body.community, body.topic_key, body.title, body.week, worker))

    @router.get("", response_model=MeetingItemListOut)
    def list_items(
        worker: WorkerDep,
        community: str,
        status: Annotated[list[MeetingStatus], Query(description="Repeat for several; none: all.")] = [],  # noqa: B006
    ) -> MeetingItemListOut:
        """The community's meeting items, for its workers."""
        if not worker.serves(community):
            raise PermissionDenied(f"worker {worker.worker_id} does not serve {community}")
        return MeetingItemListOut(items=[item_out(item) for item in meetings().list(community, status)])

    @router.get("/public", response_model=PublicDecisionListOut)
    def public_decisions(caller: CallerDep, community: str) -> PublicDecisionListOut:
        """What the community's residents' meeting decided (全透明): for any resident or worker token."""
        require_resident_or_worker(caller)
        decided = meetings().list(community, [MeetingStatus.DECIDED])
        return PublicDecisionListOut(decisions=[decision_out(item) for item in decided])

    @router.post("/{item_id}/schedule", response_model=MeetingItemOut)
    def schedule(item_id: str, body: ScheduleBody, worker: WorkerDep) -> MeetingItemOut:
        """Sets or moves the meeting's time (a proposed or scheduled item)."""
        return item_out(meetings().schedule(item_id, body.meeting_at, worker))

    @router.post("/{item_id}/decide", response_model=MeetingItemOut)
    def decide(item_id: str, body: DecideBody, worker: WorkerDep) -> MeetingItemOut:
        """Records the decision of a scheduled item's meeting; it becomes public."""
        return item_out(meetings().decide(item_id, body.outcome, worker))

    @router.post("/{item_id}/drop", response_model=MeetingItemOut)
    def drop(item_id: str, body: DropBody, worker: WorkerDep) -> MeetingItemOut:
        """Takes an open item off the agenda, with the reason."""
        return item_out(meetings().drop(item_id, body.reason, worker))

    return router
