"""The beat sweeps with a controlled clock: stuck tickets are queued again, overdue ones climb the ladder."""

from __future__ import annotations

from datetime import timedelta

import pytest

from linli.v1 import routing_pb2
from services.intake.database import Database
from services.intake.tickets.context import LifecyclePolicy
from services.intake.tickets.models import TicketStatus
from services.intake.tickets.validation import Submission
from tests.unit.intake_fakes import (
    PROPERTY,
    Intake,
    RecordingTaskQueue,
    decision,
)

# Provides the `ticket_database` fixture (SQLite and PostgreSQL).
pytest_plugins = ["tests.unit.intake_database"]

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
