"""Duplicate tickets: linked at triage by embedding, counted, prioritised, followed, merged and unmerged by workers."""

from __future__ import annotations

from datetime import timedelta

import pytest

from linli.errors import FailedPrecondition, PermissionDenied
from linli.v1 import routing_pb2
from services.intake.database import Database
from services.intake.tickets.context import LifecyclePolicy
from services.intake.tickets.duplicates import same_place
from services.intake.tickets.models import TicketStatus
from services.intake.tickets.triage_flows import TriageOutcome
from services.intake.tickets.validation import Submission
from tests.unit.intake_fakes import (
    DISPATCHER,
    PROPERTY,
    STREET,
    Intake,
    decision,
    embedding,
)

# Provides the `ticket_database` fixture (SQLite and PostgreSQL).
pytest_plugins = ["tests.unit.intake_database"]

LIGHT = Submission(text="3号楼楼道灯坏了,晚上很黑", community="恒康居民区", resident_id="r-1", building="3号楼")
NEAR = embedding(1.0, 0.1, 0.0)  # cosine with LIGHT_VECTOR: 0.995
LIGHT_VECTOR = embedding(1.0, 0.0, 0.0)
FAR = embedding(0.0, 1.0, 0.0)


@pytest.fixture
def intake(ticket_database: Database) -> Intake:
    return Intake(ticket_database)


def submit(intake: Intake, resident: str, **change: str) -> str:
    submission = Submission(**{**LIGHT.__dict__, "resident_id": resident, **change})
    return intake.flows.submit(submission)[0].ticket.id


def triaged(intake: Intake, resident: str, vector: object, **change: str) -> tuple[str, TriageOutcome]:
    ticket_id = submit(intake, resident, **change)
    return ticket_id, intake.triage.record_triage(ticket_id, decision(), vector)  # type: ignore[arg-type]


def test_a_close_ticket_is_linked_to_the_earliest_open_one(intake: Intake) -> None:
    primary, first = triaged(intake, "r-1", LIGHT_VECTOR)
    second, outcome_2 = triaged(intake, "r-2", NEAR, text="3号楼楼道的灯不亮了")
    third, outcome_3 = triaged(intake, "r-3", NEAR, text="三号楼楼道灯坏了好几天")
    assert (first, outcome_2, outcome_3) == (TriageOutcome.ROUTED, TriageOutcome.MERGED, TriageOutcome.MERGED)
    view = intake.flows.get(primary)
    assert (view.ticket.reporter_count, view.ticket.priority) == (3, 3)
    assert view.duplicate_ids == [second, third]
    assert view.duplicate_notice == "2 位邻居也反映了这个问题"
    follower = intake.flows.get(second)
    assert (follower.ticket.status, follower.ticket.primary_id) == (TicketStatus.MERGED, primary)
    assert follower.primary_status is TicketStatus.ROUTED
    assert follower.duplicate_notice == "2 位邻居也反映了这个问题"
    assert follower.ticket.sla_due_at is None
    assert "相似度" in follower.ticket.events[-1].note
    assert [e.kind for e in view.ticket.events][-2:] == ["duplicate_linked", "duplicate_linked"]


@pytest.mark.parametrize(
    ("vector", "change"),
    [
        (FAR, {}),  # another problem
        (NEAR, {"building": "5号楼", "text": "5号楼楼道灯坏了"}),  # another building
        (NEAR, {"building": "", "text": "5号楼楼道灯坏了"}),  # another building, named only in the text
        (NEAR, {"community": "梅林小区"}),  # another community
    ],
)
def test_what_is_not_the_same_problem_stays_apart(intake: Intake, vector: object, change: dict[str, str]) -> None:
    triaged(intake, "r-1", LIGHT_VECTOR)
    _, outcome = triaged(intake, "r-2", vector, **change)
    assert outcome is TriageOutcome.ROUTED


def test_only_open_tickets_within_the_window_are_primaries(ticket_database: Database) -> None:
    intake = Intake(ticket_database, policy=LifecyclePolicy(duplicate_window=timedelta(hours=1)))
    old, _ = triaged(intake, "r-1", LIGHT_VECTOR)
    intake.clock.now += timedelta(hours=2)
    _, outcome = triaged(intake, "r-2", NEAR)
    assert outcome is TriageOutcome.ROUTED  # the first is too old to be the same incident
    intake.flows.accept(old, PROPERTY)
    intake.flows.resolve(old, PROPERTY, resolution="已更换")
    _, later = triaged(intake, "r-3", NEAR)
    assert later is TriageOutcome.MERGED  # joins the second, the open one


def test_merged_tickets_are_resolved_with_their_primary(intake: Intake) -> None:
    primary, _ = triaged(intake, "r-1", LIGHT_VECTOR)
    follower, _ = triaged(intake, "r-2", NEAR)
    intake.flows.accept(primary, PROPERTY)
    intake.flows.resolve(primary, PROPERTY, resolution="电工已更换3号楼楼道灯")
    view = intake.flows.get(follower)
    assert (view.ticket.status, view.ticket.resolution) == (TicketStatus.RESOLVED, "电工已更换3号楼楼道灯")
    assert view.primary_status is TicketStatus.RESOLVED
    assert intake.notifier.kinds(follower) == ["resolved"]
    assert intake.queue.case_sync == [primary]  # one precedent, not one per reporter
    rated = intake.flows.rate(follower, resident_id="r-2", score=1).ticket
    assert (rated.status, rated.primary_id) == (TicketStatus.REOPENED, None)


def test_workers_merge_and_unmerge(intake: Intake) -> None:
    primary, _ = triaged(intake, "r-1", LIGHT_VECTOR)
    other, _ = triaged(intake, "r-2", FAR, text="楼道里的灯泡坏了要换")
    with pytest.raises(PermissionDenied):
        intake.flows.merge(other, STREET, primary_id=primary)
    ticket, merged_into = intake.flows.merge(other, PROPERTY, primary_id=primary)
    assert (ticket.ticket.status, ticket.ticket.primary_id) == (TicketStatus.MERGED, primary)
    assert (merged_into.ticket.reporter_count, merged_into.duplicate_notice) == (2, "1 位邻居也反映了这个问题")
    with pytest.raises(FailedPrecondition):
        intake.flows.merge(primary, PROPERTY, primary_id=other)  # a merged ticket is nobody's primary
    separated = intake.flows.unmerge(other, PROPERTY, reason="是另一栋楼的问题").ticket
    assert (separated.status, separated.party, separated.primary_id) == (TicketStatus.ROUTED, "property_manager", None)
    assert separated.sla_due_at is not None
    assert intake.flows.get(primary).ticket.reporter_count == 1
    assert [e.kind for e in separated.events][-2:] == ["merged", "unmerged"]
    with pytest.raises(FailedPrecondition):
        intake.flows.unmerge(other, PROPERTY, reason="再拆一次")


def test_a_dispatcher_merges_and_a_manual_ticket_unmerges_back_to_the_queue(intake: Intake) -> None:
    primary, _ = triaged(intake, "r-1", LIGHT_VECTOR)
    manual = submit(intake, "r-2", text="楼道里黑乎乎的")
    intake.triage.record_triage(manual, decision(abstained=True), FAR)
    intake.flows.merge(manual, DISPATCHER, primary_id=primary)
    separated = intake.flows.unmerge(manual, DISPATCHER, reason="不是同一个问题").ticket
    assert (separated.status, separated.party) == (TicketStatus.NEEDS_MANUAL, "")


def test_merging_moves_the_duplicates_along(intake: Intake) -> None:
    first, _ = triaged(intake, "r-1", LIGHT_VECTOR)
    second, _ = triaged(intake, "r-2", NEAR)
    unrelated, _ = triaged(intake, "r-3", FAR, text="3号楼楼道灯整条线路都坏了")
    intake.flows.merge(first, PROPERTY, primary_id=unrelated)
    view = intake.flows.get(unrelated)
    assert (view.ticket.reporter_count, sorted(view.duplicate_ids)) == (3, sorted([first, second]))


def test_urgency_and_reporters_set_the_priority(intake: Intake) -> None:
    ticket_id = submit(intake, "r-1")
    intake.triage.record_triage(ticket_id, decision(urgency=routing_pb2.URGENCY_EMERGENCY), LIGHT_VECTOR)
    triaged(intake, "r-2", NEAR)
    assert intake.flows.get(ticket_id).ticket.priority == 11


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        ("3号楼楼道灯坏了", "5号楼楼道灯坏了", False),
        ("小区东门路灯坏了", "小区西门路灯坏了", False),
        ("2单元门禁坏了", "3单元门禁坏了", False),
        ("二号楼外墙瓷砖掉下来了", "2号楼墙上的瓷砖往下掉", True),
        ("十二栋电梯坏了", "12栋的电梯停了", True),
        ("5号楼电梯又坏了,停在3楼不动", "5号楼的电梯今天早上坏了", True),
        ("路灯坏了", "3号楼门口路灯坏了", True),
    ],
)
def test_named_places_must_agree(first: str, second: str, same: bool) -> None:
    assert same_place(first, second) is same
