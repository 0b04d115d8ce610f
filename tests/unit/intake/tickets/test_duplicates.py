"""Duplicate tickets: linked at triage by embedding, counted, prioritised, followed, merged and unmerged by workers."""

from __future__ import annotations

import dataclasses
import math
from datetime import timedelta

import pytest
from pydantic import ValidationError

from linli.errors import FailedPrecondition, NotFound
from linli.v1 import routing_pb2
from services.intake.database import Database
from services.intake.settings import IntakeSettings
from services.intake.tickets.context import LifecyclePolicy
from services.intake.tickets.duplicates import EARTH_RADIUS_METERS, haversine_meters, same_place
from services.intake.tickets.models import TicketStatus
from services.intake.tickets.validation import Submission
from services.intake.triage.flows import TriageOutcome
from tests.unit.intake.fakes import (
    DISPATCHER,
    PROPERTY,
    STREET,
    Intake,
    decision,
    embedding,
)

# Provides the `ticket_database` fixture (SQLite and PostgreSQL).
pytest_plugins = ["tests.unit.intake.database"]

LIGHT = Submission(text="3号楼楼道灯坏了,晚上很黑", community="恒康居民区", resident_id="r-1", building="3号楼")
NEAR = embedding(1.0, 0.1, 0.0)  # cosine with LIGHT_VECTOR: 0.995
LIGHT_VECTOR = embedding(1.0, 0.0, 0.0)
FAR = embedding(0.0, 1.0, 0.0)
# A point in the compound, and 0.00045 / 0.0045 degrees of latitude north of it: about 50 m and 500 m away.
GATE = (31.2304, 121.4737)
FIFTY_METERS_NORTH = (31.23085, 121.4737)
FIVE_HUNDRED_METERS_NORTH = (31.2349, 121.4737)


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


def triaged_at(intake: Intake, resident: str, point: tuple[float, float] | None) -> tuple[str, TriageOutcome]:
    """Triages the light complaint (the same vector every time), sent from `point` or from nowhere."""
    latitude, longitude = point or (None, None)
    submission = dataclasses.replace(LIGHT, resident_id=resident, latitude=latitude, longitude=longitude)
    ticket_id = intake.flows.submit(submission)[0].ticket.id
    return ticket_id, intake.triage.record_triage(ticket_id, decision(), NEAR)


@pytest.mark.parametrize(
    ("first", "second", "outcome"),
    [
        (GATE, FIVE_HUNDRED_METERS_NORTH, TriageOutcome.ROUTED),  # the same words about a light 500 m away
        (GATE, FIFTY_METERS_NORTH, TriageOutcome.MERGED),  # the same light, seen from a few steps away
        (GATE, None, TriageOutcome.MERGED),  # a ticket without a point is judged by its text, as before
        (None, FIVE_HUNDRED_METERS_NORTH, TriageOutcome.MERGED),
    ],
)
def test_tickets_whose_points_are_farther_apart_than_the_limit_stay_apart(
    intake: Intake, first: tuple[float, float] | None, second: tuple[float, float] | None, outcome: TriageOutcome
) -> None:
    assert intake.policy.duplicate_max_distance_meters == 200
    triaged_at(intake, "r-1", first)
    assert triaged_at(intake, "r-2", second)[1] is outcome


def test_a_distance_limit_of_zero_merges_whatever_the_points(ticket_database: Database) -> None:
    intake = Intake(ticket_database, policy=LifecyclePolicy(duplicate_max_distance_meters=0))
    triaged_at(intake, "r-1", GATE)
    assert triaged_at(intake, "r-2", FIVE_HUNDRED_METERS_NORTH)[1] is TriageOutcome.MERGED


def test_a_far_similar_ticket_is_passed_over_for_a_later_near_one(intake: Intake) -> None:
    far, _ = triaged_at(intake, "r-1", FIVE_HUNDRED_METERS_NORTH)  # the earliest, at the other end of the compound
    near, outcome = triaged_at(intake, "r-2", GATE)
    assert outcome is TriageOutcome.ROUTED
    follower, outcome = triaged_at(intake, "r-3", FIFTY_METERS_NORTH)
    assert (outcome, intake.flows.get(follower).ticket.primary_id) == (TriageOutcome.MERGED, near)
    assert intake.flows.get(far).ticket.reporter_count == 1


def test_the_distance_limit_comes_from_the_settings() -> None:
    assert LifecyclePolicy.from_settings(IntakeSettings()).duplicate_max_distance_meters == 200
    limit = LifecyclePolicy.from_settings(IntakeSettings(duplicate_max_distance_meters=0))
    assert limit.duplicate_max_distance_meters == 0
    with pytest.raises(ValidationError, match="duplicate_max_distance_meters"):
        IntakeSettings(duplicate_max_distance_meters=-1)


@pytest.mark.parametrize(
    ("a", "b", "meters"),
    [
        ((31.2304, 121.4737), (31.2314, 121.4737), 111.19),  # 0.001 degree of latitude
        ((0.0, 0.0), (0.0, 1.0), 111_195.08),  # a degree of longitude on the equator
        ((60.0, 10.0), (60.0, 10.002), 111.19),  # two thousandths of longitude at 60 degrees: cos 60 = 1/2
        ((39.9042, 116.4074), (31.2304, 121.4737), 1_067_300),  # Beijing to Shanghai, the city centres
        ((31.2304, 121.4737), (31.2304, 121.4737), 0.0),
        ((90.0, 0.0), (0.0, 45.0), math.pi / 2 * EARTH_RADIUS_METERS),  # pole to equator
        ((0.0, 0.0), (0.0, 180.0), math.pi * EARTH_RADIUS_METERS),  # antipodes: no domain error
        ((0.0, 179.9995), (0.0, -179.9995), 111.19),  # across the antimeridian
    ],
)
def test_haversine_distance(a: tuple[float, float], b: tuple[float, float], meters: float) -> None:
    assert haversine_meters(*a, *b) == pytest.approx(meters, rel=1e-3, abs=0.01)
    assert haversine_meters(*b, *a) == pytest.approx(haversine_meters(*a, *b))


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
    with pytest.raises(NotFound):
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
