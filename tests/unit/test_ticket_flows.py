"""Ticket flows on a real database (SQLite and PostgreSQL) with a recording queue."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from linli.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from linli.v1 import routing_pb2
from services.intake.database import Database
from services.intake.tickets.flows import TicketFlows, WorkerAction
from services.intake.tickets.models import Ticket, TicketStatus
from services.intake.tickets.repository import TicketQuery
from services.intake.tickets.validation import Submission
from tests.unit.fakes import RecordingQueue, StepClock

COMPLAINT = Submission(text="楼道灯坏了好几天了", community="恒康居民区", resident_id="r-1", building="3号楼")


@pytest.fixture
def queue() -> RecordingQueue:
    return RecordingQueue()


@pytest.fixture
def database(database_url: str) -> Database:
    db = Database(database_url)
    db.create_schema()
    return db


@pytest.fixture
def flows(database: Database, queue: RecordingQueue) -> TicketFlows:
    return TicketFlows(database, queue, StepClock())


def count_tickets(database: Database) -> int:
    with database.unit_of_work() as session:
        return int(session.scalar(select(func.count()).select_from(Ticket)) or 0)


def routed(party: str = "property_manager", confidence: float = 0.9) -> routing_pb2.RoutingDecision:
    return routing_pb2.RoutingDecision(
        party=party, confidence=confidence, rationale=routing_pb2.Rationale(summary="相似案例投票")
    )


def test_submit_stores_then_queues(flows: TicketFlows, queue: RecordingQueue) -> None:
    ticket, created = flows.submit(COMPLAINT)
    assert created
    assert ticket.status == TicketStatus.RECEIVED
    assert queue.queued == [ticket.id]
    stored = flows.get(ticket.id)
    assert [e.kind for e in stored.events] == ["received"]
    assert stored.events[0].actor == "resident:r-1"


def test_submit_keeps_the_ticket_when_the_broker_is_down(database: Database) -> None:
    flows = TicketFlows(database, RecordingQueue(broken=True), StepClock())
    ticket, created = flows.submit(COMPLAINT)
    assert created
    assert flows.get(ticket.id).status == TicketStatus.RECEIVED


def test_retried_submit_with_the_same_key_returns_the_same_ticket(flows: TicketFlows, queue: RecordingQueue) -> None:
    keyed = Submission(**{**COMPLAINT.__dict__, "idempotency_key": "k-1"})
    first, created_first = flows.submit(keyed)
    again, created_again = flows.submit(keyed)
    assert (created_first, created_again) == (True, False)
    assert again.id == first.id
    assert queue.queued == [first.id]


def test_reusing_a_key_for_another_complaint_is_refused(flows: TicketFlows, database: Database) -> None:
    flows.submit(Submission(**{**COMPLAINT.__dict__, "idempotency_key": "k-2"}))
    with pytest.raises(AlreadyExists):
        flows.submit(Submission(**{**COMPLAINT.__dict__, "text": "电梯坏了", "idempotency_key": "k-2"}))
    assert count_tickets(database) == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"text": "   "}, "text"),
        ({"text": "灯"}, "text"),
        ({"text": "长" * 2001}, "text"),
        ({"text": "灯坏了\x00\x07"}, "text"),
        ({"community": ""}, "community"),
        ({"resident_id": " "}, "resident_id"),
        ({"attachment_urls": ("file:///etc/passwd",)}, "attachment_urls[0]"),
        ({"attachment_urls": ("javascript:alert(1)",)}, "attachment_urls[0]"),
    ],
)
def test_bad_submissions_name_the_field_and_write_nothing(
    flows: TicketFlows, database: Database, queue: RecordingQueue, change: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidArgument) as raised:
        flows.submit(Submission(**{**COMPLAINT.__dict__, **change}))
    assert [v.field for v in raised.value.violations] == [field]
    assert count_tickets(database) == 0
    assert queue.queued == []


def test_text_is_trimmed_and_line_breaks_are_kept(flows: TicketFlows) -> None:
    ticket, _ = flows.submit(Submission(**{**COMPLAINT.__dict__, "text": "  楼道灯坏了\n晚上很黑  "}))
    assert ticket.text == "楼道灯坏了\n晚上很黑"


def test_triage_is_recorded_once(flows: TicketFlows) -> None:
    ticket, _ = flows.submit(COMPLAINT)
    assert flows.record_triage(ticket.id, routed("property_manager"))
    assert not flows.record_triage(ticket.id, routed("street_office"))
    stored = flows.get(ticket.id)
    assert (stored.status, stored.party) == (TicketStatus.ROUTED, "property_manager")
    assert stored.routing is not None
    assert stored.routing["party"] == "property_manager"
    assert flows.pending_triage(ticket.id) is None


def test_an_abstaining_decision_sends_the_ticket_to_a_person(flows: TicketFlows) -> None:
    ticket, _ = flows.submit(COMPLAINT)
    flows.record_triage(ticket.id, routing_pb2.RoutingDecision(abstained=True, confidence=0.4))
    stored = flows.get(ticket.id)
    assert (stored.status, stored.party) == (TicketStatus.NEEDS_MANUAL, "")


def test_lifecycle_accept_resolve_rate(flows: TicketFlows) -> None:
    ticket, _ = flows.submit(COMPLAINT)
    flows.record_triage(ticket.id, routed("property_manager"))
    action = WorkerAction(ticket.id, "w-7", "property_manager")
    assert flows.accept(action).status == TicketStatus.ACCEPTED
    resolved = flows.resolve(action, resolution="电工已更换楼道灯")
    assert (resolved.status, resolved.resolution) == (TicketStatus.RESOLVED, "电工已更换楼道灯")
    rated = flows.rate(ticket.id, resident_id="r-1", score=5, comment="很快")
    assert (rated.status, rated.rating) == (TicketStatus.CLOSED, 5)
    assert [e.kind for e in flows.get(ticket.id).events] == ["received", "routed", "accepted", "resolved", "rated"]


def test_a_not_solved_rating_reopens(flows: TicketFlows) -> None:
    ticket, _ = flows.submit(COMPLAINT)
    flows.record_triage(ticket.id, routed("property_manager"))
    action = WorkerAction(ticket.id, "w-7", "property_manager")
    flows.accept(action)
    flows.resolve(action, resolution="已处理")
    assert flows.rate(ticket.id, resident_id="r-1", score=1).status == TicketStatus.REOPENED


def test_workers_act_only_within_their_party(flows: TicketFlows) -> None:
    ticket, _ = flows.submit(COMPLAINT)
    flows.record_triage(ticket.id, routed("property_manager"))
    with pytest.raises(PermissionDenied):
        flows.accept(WorkerAction(ticket.id, "w-9", "street_office"))
    assert flows.get(ticket.id).status == TicketStatus.ROUTED


def test_only_the_resident_rates(flows: TicketFlows) -> None:
    ticket, _ = flows.submit(COMPLAINT)
    flows.record_triage(ticket.id, routed())
    action = WorkerAction(ticket.id, "w-7", "property_manager")
    flows.accept(action)
    flows.resolve(action, resolution="已处理")
    with pytest.raises(PermissionDenied):
        flows.rate(ticket.id, resident_id="someone-else", score=5)


def test_transfer_records_from_to_and_reason(flows: TicketFlows) -> None:
    ticket, _ = flows.submit(COMPLAINT)
    flows.record_triage(ticket.id, routed("property_manager"))
    moved = flows.transfer(
        WorkerAction(ticket.id, "w-7", "property_manager"), to_party="street_office", reason="属于市政道路,归街道"
    )
    assert (moved.status, moved.party) == (TicketStatus.TRANSFERRED, "street_office")
    event = moved.events[-1]
    assert (event.kind, event.from_party, event.to_party, event.note) == (
        "transferred",
        "property_manager",
        "street_office",
        "属于市政道路,归街道",
    )
    assert flows.accept(WorkerAction(ticket.id, "w-2", "street_office")).status == TicketStatus.ACCEPTED


def test_a_manual_ticket_is_claimed_by_the_accepting_party(flows: TicketFlows) -> None:
    ticket, _ = flows.submit(COMPLAINT)
    flows.send_to_manual(ticket.id, reason="自动分派暂不可用")
    accepted = flows.accept(WorkerAction(ticket.id, "w-2", "street_office"))
    assert (accepted.status, accepted.party) == (TicketStatus.ACCEPTED, "street_office")


def test_a_ticket_is_resolved_only_after_it_was_accepted(flows: TicketFlows) -> None:
    ticket, _ = flows.submit(COMPLAINT)
    flows.record_triage(ticket.id, routed("property_manager"))
    with pytest.raises(FailedPrecondition):
        flows.resolve(WorkerAction(ticket.id, "w-7", "property_manager"), resolution="已处理")
    assert flows.get(ticket.id).status == TicketStatus.ROUTED


def test_unknown_ticket_is_not_found(flows: TicketFlows) -> None:
    with pytest.raises(NotFound):
        flows.get("no-such-ticket")


def test_listing_pages_by_cursor_newest_first(flows: TicketFlows) -> None:
    ids = [flows.submit(Submission(**{**COMPLAINT.__dict__, "text": f"第{i}号投诉内容"}))[0].id for i in range(5)]
    first, token = flows.list(TicketQuery(page_size=2))
    second, token2 = flows.list(TicketQuery(page_size=2, page_token=token))
    third, token3 = flows.list(TicketQuery(page_size=2, page_token=token2))
    assert [t.id for t in first + second + third] == ids[::-1]
    assert token3 == ""
    with pytest.raises(InvalidArgument):
        flows.list(TicketQuery(page_token="garbage!"))  # noqa: S106 - a cursor, not a password
