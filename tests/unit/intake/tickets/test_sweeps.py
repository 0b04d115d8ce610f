"""The beat sweeps with a controlled clock: stuck tickets are queued again, overdue ones climb the ladder,
resolved ones nobody rated are closed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from linli.v1 import routing_pb2
from services.intake.database import Database
from services.intake.settings import IntakeSettings
from services.intake.tickets.context import LifecyclePolicy
from services.intake.tickets.models import TicketStatus
from services.intake.tickets.validation import Submission
from tests.unit.intake.fakes import (
    PROPERTY,
    Intake,
    RecordingTaskQueue,
    decision,
    resolved_ticket,
)

# Provides the `ticket_database` fixture (SQLite and PostgreSQL).
pytest_plugins = ["tests.unit.intake.database"]

COMPLAINT = Submission(text="小区北门的路灯坏了一周了", community="恒康居民区", resident_id="r-1")


@pytest.fixture
def intake(ticket_database: Database) -> Intake:
    return Intake(ticket_database, policy=LifecyclePolicy(stuck_after=timedelta(minutes=5)))


def test_tickets_stuck_in_received_are_queued_again_once_per_interval(ticket_database: Database) -> None:
    # The broker was down at submit: nothing was queued, the ticket waits in the store.
    intake = Intake(
        ticket_database, RecordingTaskQueue(broken=True), policy=LifecyclePolicy(stuck_after=timedelta(minutes=5))
    )
    stuck = intake.flows.submit(COMPLAINT)[0].ticket.id
    intake.queue.broken = False
    assert intake.sweeps.requeue_stuck().triage == 0  # not stuck yet: its task may still be on its way
    intake.clock.now += timedelta(minutes=6)
    fresh = intake.flows.submit(Submission(**{**COMPLAINT.__dict__, "text": "刚刚提交的投诉"}))[0].ticket.id
    assert intake.sweeps.requeue_stuck().triage == 1
    assert intake.queue.triage == [fresh, stuck]
    assert intake.sweeps.requeue_stuck().triage == 0  # just queued again: give it time
    intake.triage.record_triage(stuck, decision())
    intake.clock.now += timedelta(minutes=6)
    assert intake.sweeps.requeue_stuck().triage == 1  # only the fresh one is still waiting
    assert intake.queue.triage[-1] == fresh


def test_unsynced_cases_are_queued_again(intake: Intake) -> None:
    ticket_id = intake.flows.submit(COMPLAINT)[0].ticket.id
    intake.triage.record_triage(ticket_id, decision())
    intake.flows.accept(ticket_id, PROPERTY)
    intake.flows.resolve(ticket_id, PROPERTY, resolution="已更换路灯")
    assert intake.queue.case_sync == [ticket_id]
    intake.clock.now += timedelta(minutes=6)
    assert intake.sweeps.requeue_stuck().case_sync == 1
    sync = intake.learning.pending_case_sync(ticket_id)
    assert sync is not None
    assert intake.learning.mark_case_synced(ticket_id, sync.version)
    intake.clock.now += timedelta(minutes=6)
    assert intake.sweeps.requeue_stuck().case_sync == 0


def test_overdue_tickets_climb_the_ladder_one_level_per_deadline(intake: Intake) -> None:
    ticket_id = intake.flows.submit(COMPLAINT)[0].ticket.id
    building = decision(sla_hours=24, level=routing_pb2.ESCALATION_LEVEL_BUILDING)
    intake.triage.record_triage(ticket_id, building)
    submitted = intake.flows.get(ticket_id).ticket.created_at
    intake.clock.now = submitted + timedelta(hours=23)
    assert intake.sweeps.escalate_overdue() == 0
    intake.clock.now = submitted + timedelta(hours=24, minutes=1)
    assert intake.sweeps.escalate_overdue() == 1
    ticket = intake.flows.get(ticket_id).ticket
    assert ticket.escalation_level == "community"
    assert ticket.sla_due_at is not None
    assert ticket.sla_due_at - intake.clock.now < timedelta(hours=24)  # a fresh 24 h for the new level
    assert ticket.sla_due_at - intake.clock.now > timedelta(hours=23)
    assert "由楼组升级至社区" in ticket.events[-1].note
    assert intake.sweeps.escalate_overdue() == 0  # not due again yet
    intake.clock.now += timedelta(hours=25)
    assert intake.sweeps.escalate_overdue() == 1
    assert intake.flows.get(ticket_id).ticket.escalation_level == "street"
    intake.clock.now += timedelta(hours=25)
    assert intake.sweeps.escalate_overdue() == 0  # nobody above the street office
    top = intake.flows.get(ticket_id).ticket
    assert (top.events[-1].kind, top.sla_due_at) == ("at_top_level", None)
    intake.clock.now += timedelta(hours=25)
    intake.sweeps.escalate_overdue()
    assert [e.kind for e in intake.flows.get(ticket_id).ticket.events].count("at_top_level") == 1
    assert intake.notifier.kinds(ticket_id) == ["routed", "escalated", "escalated", "escalated"]


def test_the_escalation_factor_stretches_higher_deadlines(ticket_database: Database) -> None:
    intake = Intake(ticket_database, policy=LifecyclePolicy(escalation_sla_factor=2.0))
    ticket_id = intake.flows.submit(COMPLAINT)[0].ticket.id
    intake.triage.record_triage(ticket_id, decision(sla_hours=10, level=routing_pb2.ESCALATION_LEVEL_BUILDING))
    intake.clock.now += timedelta(hours=11)
    intake.sweeps.escalate_overdue()
    ticket = intake.flows.get(ticket_id).ticket
    assert ticket.sla_due_at is not None
    assert timedelta(hours=19) < ticket.sla_due_at - intake.clock.now <= timedelta(hours=20)


def test_finished_and_merged_tickets_are_never_escalated(intake: Intake) -> None:
    done = intake.flows.submit(COMPLAINT)[0].ticket.id
    intake.triage.record_triage(done, decision(sla_hours=1))
    intake.flows.accept(done, PROPERTY)
    intake.flows.resolve(done, PROPERTY, resolution="已修好")
    waiting = intake.flows.submit(Submission(**{**COMPLAINT.__dict__, "text": "还没分派的投诉"}))[0].ticket.id
    intake.clock.now += timedelta(days=30)
    assert intake.sweeps.escalate_overdue() == 0
    assert intake.flows.get(waiting).ticket.status == TicketStatus.RECEIVED


def test_a_manual_queue_ticket_escalates_too(intake: Intake) -> None:
    ticket_id = intake.flows.submit(COMPLAINT)[0].ticket.id
    intake.triage.send_to_manual(ticket_id, reason="自动分派暂不可用")
    intake.clock.now += timedelta(hours=73)
    assert intake.sweeps.escalate_overdue() == 1
    assert intake.flows.get(ticket_id).ticket.escalation_level == "street"


def test_resolved_tickets_nobody_rated_are_closed_after_the_follow_up_period(ticket_database: Database) -> None:
    intake = Intake(ticket_database, policy=LifecyclePolicy(auto_close_after=timedelta(days=7)))
    unrated = resolved_ticket(intake, "小区北门的路灯坏了一周了")
    happy = resolved_ticket(intake, "电梯按钮失灵")
    intake.flows.rate(happy, resident_id="r-1", score=5)
    unhappy = resolved_ticket(intake, "楼道里堆满了杂物")
    intake.flows.rate(unhappy, resident_id="r-1", score=1)
    waiting = intake.flows.submit(Submission(**{**COMPLAINT.__dict__, "text": "垃圾桶满了没人清"}))[0].ticket.id
    intake.clock.now += timedelta(days=6)
    late = resolved_ticket(intake, "地下车库漏水")  # resolved a day before the others' period ends
    intake.clock.now += timedelta(days=1)
    notices_before = {ticket_id: intake.notifier.kinds(ticket_id) for ticket_id in (unrated, late)}
    assert intake.sweeps.close_unrated() == 1
    closed = intake.flows.get(unrated).ticket
    assert (closed.status, closed.rating) == (TicketStatus.CLOSED, 0)
    assert (closed.events[-1].kind, closed.events[-1].actor) == ("auto_closed", "system")
    assert closed.events[-1].note == "居民未评价,回访期满自动办结"
    assert closed.updated_at == intake.clock.now
    statuses = {ticket_id: intake.flows.get(ticket_id).ticket.status for ticket_id in (happy, unhappy, waiting, late)}
    assert statuses == {
        happy: TicketStatus.CLOSED,
        unhappy: TicketStatus.REOPENED,
        waiting: TicketStatus.RECEIVED,
        late: TicketStatus.RESOLVED,
    }
    assert [e.kind for e in intake.flows.get(happy).ticket.events].count("auto_closed") == 0
    # The resident was told at "resolved"; closing sends nothing more.
    assert {ticket_id: intake.notifier.kinds(ticket_id) for ticket_id in (unrated, late)} == notices_before
    assert intake.sweeps.close_unrated() == 0  # idempotent: the closed ticket is not closed again
    assert [e.kind for e in intake.flows.get(unrated).ticket.events].count("auto_closed") == 1
    intake.clock.now += timedelta(days=6)
    assert intake.sweeps.close_unrated() == 1
    assert intake.flows.get(late).ticket.status == TicketStatus.CLOSED


def test_a_ticket_resolved_again_after_a_bad_rating_gets_a_new_follow_up_period(intake: Intake) -> None:
    ticket_id = resolved_ticket(intake, "小区北门的路灯坏了一周了")
    intake.flows.rate(ticket_id, resident_id="r-1", score=1)  # reopened and escalated; the rating stays 1
    intake.flows.accept(ticket_id, PROPERTY)
    intake.flows.resolve(ticket_id, PROPERTY, resolution="换了新的灯具")
    intake.clock.now += timedelta(days=6, hours=23)
    assert intake.sweeps.close_unrated() == 0
    intake.clock.now += timedelta(hours=2)
    assert intake.sweeps.close_unrated() == 1  # the old rating was for the old resolution
    assert intake.flows.get(ticket_id).ticket.status == TicketStatus.CLOSED


def test_the_resident_can_still_rate_or_reopen_an_auto_closed_ticket(intake: Intake) -> None:
    rated_late = resolved_ticket(intake, "小区北门的路灯坏了一周了")
    reopened = resolved_ticket(intake, "电梯按钮失灵")
    intake.clock.now += timedelta(days=8)
    assert intake.sweeps.close_unrated() == 2
    assert intake.flows.rate(rated_late, resident_id="r-1", score=4).ticket.rating == 4
    ticket = intake.flows.reopen(reopened, resident_id="r-1", reason="按钮又坏了").ticket
    assert (ticket.status, ticket.party) == (TicketStatus.REOPENED, "property_manager")
    assert ticket.sla_due_at is not None


def test_merged_followers_are_closed_on_their_own_resident_s_clock(intake: Intake) -> None:
    primary = intake.flows.submit(COMPLAINT)[0].ticket.id
    intake.triage.record_triage(primary, decision())
    follower = intake.flows.submit(Submission(**{**COMPLAINT.__dict__, "resident_id": "r-2"}))[0].ticket.id
    intake.triage.record_triage(follower, decision())
    intake.flows.merge(follower, PROPERTY, primary_id=primary)
    intake.clock.now += timedelta(days=8)
    assert intake.sweeps.close_unrated() == 0  # merged into an open primary: nothing is resolved yet
    intake.flows.accept(primary, PROPERTY)
    intake.flows.resolve(primary, PROPERTY, resolution="已更换路灯")
    intake.flows.rate(primary, resident_id="r-1", score=5)
    intake.clock.now += timedelta(days=8)
    assert intake.sweeps.close_unrated() == 1
    ticket = intake.flows.get(follower).ticket
    assert (ticket.status, ticket.primary_id) == (TicketStatus.CLOSED, primary)


@pytest.mark.parametrize("period", [None, timedelta(days=30)])
def test_no_period_or_a_long_one_leaves_resolved_tickets_alone(ticket_database: Database, period: timedelta) -> None:
    intake = Intake(ticket_database, policy=LifecyclePolicy(auto_close_after=period))
    ticket_id = resolved_ticket(intake, "小区北门的路灯坏了一周了")
    intake.clock.now += timedelta(days=29)
    assert intake.sweeps.close_unrated() == 0
    assert intake.flows.get(ticket_id).ticket.status == TicketStatus.RESOLVED


def test_the_auto_close_setting_becomes_the_policy_and_zero_turns_it_off() -> None:
    assert LifecyclePolicy.from_settings(IntakeSettings()).auto_close_after == timedelta(days=7)
    assert LifecyclePolicy.from_settings(IntakeSettings(auto_close_days=1.5)).auto_close_after == timedelta(hours=36)
    assert LifecyclePolicy.from_settings(IntakeSettings(auto_close_days=0)).auto_close_after is None


def test_the_auto_close_batch_is_bounded(ticket_database: Database) -> None:
    intake = Intake(ticket_database, policy=LifecyclePolicy(sweep_batch=2))
    tickets = [resolved_ticket(intake, f"第{n}号楼的路灯坏了") for n in range(3)]
    intake.clock.now += timedelta(days=8)
    assert [intake.sweeps.close_unrated() for _ in range(3)] == [2, 1, 0]
    assert {intake.flows.get(ticket_id).ticket.status for ticket_id in tickets} == {TicketStatus.CLOSED}
