"""Ticket flows on a real database (SQLite and PostgreSQL) with a recording queue and notifier."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select

from linli.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from linli.v1 import routing_pb2
from services.intake.database import Database
from services.intake.tickets.models import EscalationLevel, RoutingCorrection, Ticket, TicketStatus
from services.intake.tickets.repository import TicketQuery
from services.intake.tickets.validation import Submission
from services.intake.triage.flows import TriageOutcome
from tests.unit.intake.fakes import (
    DISPATCHER,
    ELSEWHERE,
    OWNERS,
    PROPERTY,
    STREET,
    Intake,
    RecordingTaskQueue,
    decision,
)

# Provides the `ticket_database` fixture (SQLite and PostgreSQL).
pytest_plugins = ["tests.unit.intake.database"]

COMPLAINT = Submission(text="楼道灯坏了好几天了", community="恒康居民区", resident_id="r-1", building="3号楼")


@pytest.fixture
def database(ticket_database: Database) -> Database:
    return ticket_database


@pytest.fixture
def intake(database: Database) -> Intake:
    return Intake(database)


def count(database: Database, model: type[Ticket] | type[RoutingCorrection] = Ticket) -> int:
    with database.unit_of_work() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def routed_ticket(intake: Intake, party: str = "property_manager") -> str:
    ticket_id = intake.flows.submit(COMPLAINT)[0].ticket.id
    assert intake.triage.record_triage(ticket_id, decision(party)) is TriageOutcome.ROUTED
    return ticket_id


def test_submit_stores_then_queues(intake: Intake) -> None:
    view, created = intake.flows.submit(COMPLAINT)
    assert created
    assert view.ticket.status == TicketStatus.RECEIVED
    assert intake.queue.triage == [view.ticket.id]
    stored = intake.flows.get(view.ticket.id).ticket
    assert [e.kind for e in stored.events] == ["received"]
    assert stored.events[0].actor == "resident:r-1"


def test_a_new_ticket_is_answered_as_stored_without_looking_for_its_duplicates_or_photos(
    intake: Intake, database: Database
) -> None:
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    event.listen(database.engine, "before_cursor_execute", record)
    try:
        view, created = intake.flows.submit(COMPLAINT)
    finally:
        event.remove(database.engine, "before_cursor_execute", record)

    assert created
    # Nothing can name a ticket added in this transaction: no query for its duplicates, splits or photos.
    assert [s for s in statements if s.lstrip().upper().startswith("SELECT")] == []
    stored = intake.flows.get(view.ticket.id)
    assert (view.primary_status, view.reporters, view.duplicate_ids, view.split_ids, view.attachments) == (
        stored.primary_status,
        stored.reporters,
        stored.duplicate_ids,
        stored.split_ids,
        stored.attachments,
    )


def test_a_new_ticket_is_answered_with_every_column_as_stored(intake: Intake, database: Database) -> None:
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    event.listen(database.engine, "before_cursor_execute", record)
    try:
        view = intake.flows.submit(COMPLAINT)[0]
    finally:
        event.remove(database.engine, "before_cursor_execute", record)

    # One INSERT for the ticket and one for its history, nothing written twice.
    inserts = [s.split("(")[0].split() for s in statements if s.lstrip().upper().startswith("INSERT")]
    assert inserts == [["INSERT", "INTO", "tickets"], ["INSERT", "INTO", "ticket_events"]]
    stored = intake.flows.get(view.ticket.id).ticket
    columns = [column.key for column in Ticket.__table__.columns]
    # The reply's defaults (party, deadlines, counts, level...) are the stored ones, not None where a row has a value.
    assert {c: getattr(view.ticket, c) for c in columns} == {c: getattr(stored, c) for c in columns}
    assert view.ticket.escalation_level == EscalationLevel.COMMUNITY.value
    assert (view.ticket.party, view.ticket.attachment_urls, view.ticket.reopen_count) == ("", [], 0)
    assert [(e.kind, e.actor, e.at) for e in view.ticket.events] == [(e.kind, e.actor, e.at) for e in stored.events]


def test_submit_keeps_the_ticket_when_the_broker_is_down(database: Database) -> None:
    intake = Intake(database, RecordingTaskQueue(broken=True))
    view, created = intake.flows.submit(COMPLAINT)
    assert created
    assert intake.flows.get(view.ticket.id).ticket.status == TicketStatus.RECEIVED


def test_retried_submit_with_the_same_key_returns_the_same_ticket(intake: Intake) -> None:
    keyed = Submission(**{**COMPLAINT.__dict__, "idempotency_key": "k-1"})
    first, created_first = intake.flows.submit(keyed)
    again, created_again = intake.flows.submit(keyed)
    assert (created_first, created_again) == (True, False)
    assert again.ticket.id == first.ticket.id
    assert intake.queue.triage == [first.ticket.id]


def test_reusing_a_key_for_another_complaint_is_refused(intake: Intake, database: Database) -> None:
    intake.flows.submit(Submission(**{**COMPLAINT.__dict__, "idempotency_key": "k-2"}))
    with pytest.raises(AlreadyExists):
        intake.flows.submit(Submission(**{**COMPLAINT.__dict__, "text": "电梯坏了", "idempotency_key": "k-2"}))
    assert count(database) == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"text": "   "}, "text"),
        ({"text": "灯"}, "text"),
        ({"text": "长" * 2001}, "text"),
        ({"text": "灯坏了\x00\x07"}, "text"),
        ({"community": ""}, "community"),
        ({"community": "没有这个小区"}, "community"),
        ({"resident_id": " "}, "resident_id"),
        ({"attachment_urls": ("file:///etc/passwd",)}, "attachment_urls[0]"),
        ({"attachment_urls": ("javascript:alert(1)",)}, "attachment_urls[0]"),
        # A location is both coordinates or neither, finite, in range.
        ({"latitude": 31.23}, "location.longitude"),
        ({"longitude": 121.47}, "location.latitude"),
        ({"latitude": 90.0001, "longitude": 121.47}, "location.latitude"),
        ({"latitude": -91.0, "longitude": 121.47}, "location.latitude"),
        ({"latitude": 31.23, "longitude": 180.5}, "location.longitude"),
        ({"latitude": 31.23, "longitude": -181.0}, "location.longitude"),
        ({"latitude": math.nan, "longitude": 121.47}, "location.latitude"),
        ({"latitude": 31.23, "longitude": math.inf}, "location.longitude"),
        ({"latitude": -math.inf, "longitude": 121.47}, "location.latitude"),
    ],
)
def test_bad_submissions_name_the_field_and_write_nothing(
    intake: Intake, database: Database, change: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidArgument) as raised:
        intake.flows.submit(Submission(**{**COMPLAINT.__dict__, **change}))
    assert [v.field for v in raised.value.violations] == [field]
    assert count(database) == 0
    assert intake.queue.triage == []


@pytest.mark.parametrize(
    ("latitude", "longitude"),
    [(31.2304, 121.4737), (-33.8688, 151.2093), (90.0, 180.0), (-90.0, -180.0), (0.0, 0.0)],
)
def test_a_location_is_stored_as_given(intake: Intake, latitude: float, longitude: float) -> None:
    view, _ = intake.flows.submit(Submission(**{**COMPLAINT.__dict__, "latitude": latitude, "longitude": longitude}))
    stored = intake.flows.get(view.ticket.id).ticket
    assert (stored.latitude, stored.longitude) == (latitude, longitude)


def test_without_a_location_none_is_stored(intake: Intake) -> None:
    stored = intake.flows.get(intake.flows.submit(COMPLAINT)[0].ticket.id).ticket
    assert (stored.latitude, stored.longitude) == (None, None)


def test_a_retry_with_another_location_returns_the_first_ticket_unchanged(intake: Intake) -> None:
    first = Submission(**{**COMPLAINT.__dict__, "idempotency_key": "k-3", "latitude": 31.23, "longitude": 121.47})
    retry = Submission(**{**first.__dict__, "latitude": 30.0, "longitude": 120.0})
    ticket_id = intake.flows.submit(first)[0].ticket.id
    again, created = intake.flows.submit(retry)
    assert (again.ticket.id, created) == (ticket_id, False)
    stored = intake.flows.get(ticket_id).ticket
    assert (stored.latitude, stored.longitude) == (31.23, 121.47)


def test_text_is_trimmed_and_line_breaks_are_kept(intake: Intake) -> None:
    view, _ = intake.flows.submit(Submission(**{**COMPLAINT.__dict__, "text": "  楼道灯坏了\n晚上很黑  "}))
    assert view.ticket.text == "楼道灯坏了\n晚上很黑"


def test_triage_is_recorded_once(intake: Intake) -> None:
    ticket_id = intake.flows.submit(COMPLAINT)[0].ticket.id
    assert intake.triage.record_triage(ticket_id, decision("property_manager")) is TriageOutcome.ROUTED
    assert intake.triage.record_triage(ticket_id, decision("street_office")) is TriageOutcome.ALREADY_TRIAGED
    stored = intake.flows.get(ticket_id).ticket
    assert (stored.status, stored.party, stored.routed_party) == (
        TicketStatus.ROUTED,
        "property_manager",
        "property_manager",
    )
    assert stored.routing is not None
    assert stored.routing["party"] == "property_manager"
    assert intake.triage.pending_triage(ticket_id) is None
    assert intake.notifier.kinds(ticket_id) == ["routed"]


def test_the_decision_sets_level_deadline_and_priority(intake: Intake) -> None:
    view, _ = intake.flows.submit(COMPLAINT)
    urgent = decision(
        urgency=routing_pb2.URGENCY_URGENT,
        sla_hours=24,
        level=routing_pb2.ESCALATION_LEVEL_BUILDING,
        entry_id="stairwell_light_broken",
    )
    intake.triage.record_triage(view.ticket.id, urgent)
    stored = intake.flows.get(view.ticket.id).ticket
    assert (stored.urgency, stored.escalation_level, stored.sla_hours) == ("urgent", "building", 24)
    assert stored.sla_due_at == view.ticket.created_at + timedelta(hours=24)
    assert stored.priority == 5
    assert stored.catalog_entry == "stairwell_light_broken"


def test_unset_decision_fields_get_the_defaults(intake: Intake) -> None:
    ticket_id = routed_ticket(intake)
    stored = intake.flows.get(ticket_id).ticket
    assert (stored.urgency, stored.escalation_level, stored.sla_hours, stored.priority) == (
        "normal",
        EscalationLevel.COMMUNITY.value,
        72,
        1,
    )
    assert stored.sla_due_at == stored.created_at + timedelta(hours=72)


def test_an_abstaining_decision_sends_the_ticket_to_a_person(intake: Intake) -> None:
    ticket_id = intake.flows.submit(COMPLAINT)[0].ticket.id
    assert (
        intake.triage.record_triage(ticket_id, decision(abstained=True, confidence=0.4)) is TriageOutcome.NEEDS_MANUAL
    )
    stored = intake.flows.get(ticket_id).ticket
    assert (stored.status, stored.party, stored.routed_party) == (TicketStatus.NEEDS_MANUAL, "", "")
    assert intake.notifier.kinds(ticket_id) == ["needs_manual"]


def test_lifecycle_accept_start_resolve_rate(intake: Intake) -> None:
    ticket_id = routed_ticket(intake)
    accepted = intake.flows.accept(ticket_id, PROPERTY).ticket
    assert (accepted.status, accepted.assignee_worker_id) == (TicketStatus.ACCEPTED, "w-7")
    assert intake.flows.start(ticket_id, PROPERTY).ticket.status == TicketStatus.IN_PROGRESS
    resolved = intake.flows.resolve(ticket_id, PROPERTY, resolution="电工已更换楼道灯").ticket
    assert (resolved.status, resolved.resolution) == (TicketStatus.RESOLVED, "电工已更换楼道灯")
    assert resolved.sla_due_at is None
    assert resolved.resolved_at is not None
    assert intake.queue.case_sync == [ticket_id]
    rated = intake.flows.rate(ticket_id, resident_id="r-1", score=5, comment="很快").ticket
    assert (rated.status, rated.rating) == (TicketStatus.CLOSED, 5)
    events = intake.flows.get(ticket_id).ticket.events
    assert [e.kind for e in events] == ["received", "routed", "accepted", "started", "resolved", "rated"]
    assert [(e.actor, e.party) for e in events[2:5]] == [("worker:w-7", "property_manager")] * 3
    assert intake.notifier.kinds(ticket_id) == ["routed", "accepted", "resolved"]


def test_a_not_solved_rating_reopens_and_escalates(intake: Intake) -> None:
    ticket_id = routed_ticket(intake)
    intake.flows.accept(ticket_id, PROPERTY)
    intake.flows.resolve(ticket_id, PROPERTY, resolution="已处理")
    rated = intake.flows.rate(ticket_id, resident_id="r-1", score=1).ticket
    assert (rated.status, rated.escalation_level) == (TicketStatus.REOPENED, "street")
    assert [e.kind for e in rated.events][-3:] == ["rated", "reopened", "escalated"]
    assert rated.sla_due_at is not None
    assert intake.notifier.kinds(ticket_id)[-2:] == ["reopened", "escalated"]
    assert intake.queue.case_sync == [ticket_id, ticket_id]  # learn, then forget the failed resolution


def test_the_resident_reopens_a_closed_ticket(intake: Intake) -> None:
    ticket_id = routed_ticket(intake)
    intake.flows.accept(ticket_id, PROPERTY)
    intake.flows.resolve(ticket_id, PROPERTY, resolution="已处理")
    intake.flows.rate(ticket_id, resident_id="r-1", score=4)
    with pytest.raises(PermissionDenied):
        intake.flows.reopen(ticket_id, resident_id="someone-else", reason="灯又坏了")
    reopened = intake.flows.reopen(ticket_id, resident_id="r-1", reason="灯又坏了").ticket
    assert (reopened.status, reopened.party, reopened.escalation_level) == ("reopened", "property_manager", "community")
    assert intake.flows.accept(ticket_id, PROPERTY).ticket.status == TicketStatus.ACCEPTED
    with pytest.raises(FailedPrecondition):
        intake.flows.reopen(ticket_id, resident_id="r-1", reason="灯又坏了")


def test_workers_act_only_within_their_party_and_community(intake: Intake) -> None:
    ticket_id = routed_ticket(intake)
    with pytest.raises(NotFound):
        intake.flows.accept(ticket_id, STREET)  # another party's ticket is one they cannot see: 404, not 403
    with pytest.raises(NotFound):
        intake.flows.accept(ticket_id, ELSEWHERE)  # the right party, another community
    assert intake.flows.get(ticket_id).ticket.status == TicketStatus.ROUTED
    assert intake.notifier.kinds(ticket_id) == ["routed"]


def test_only_the_resident_rates(intake: Intake) -> None:
    ticket_id = routed_ticket(intake)
    intake.flows.accept(ticket_id, PROPERTY)
    intake.flows.resolve(ticket_id, PROPERTY, resolution="已处理")
    with pytest.raises(PermissionDenied):
        intake.flows.rate(ticket_id, resident_id="someone-else", score=5)


def test_transfer_is_a_correction_and_a_hand_back_is_a_dispute(intake: Intake, database: Database) -> None:
    ticket_id = routed_ticket(intake)
    moved = intake.flows.transfer(ticket_id, PROPERTY, to_party="street_office", reason="属于市政道路,归街道").ticket
    assert (moved.status, moved.party, moved.escalation_level) == (
        TicketStatus.TRANSFERRED,
        "street_office",
        "community",
    )
    event = moved.events[-1]
    assert (event.kind, event.from_party, event.to_party, event.note, event.party) == (
        "transferred",
        "property_manager",
        "street_office",
        "属于市政道路,归街道",
        "property_manager",
    )
    with database.unit_of_work() as session:
        correction = session.scalars(select(RoutingCorrection)).one()
        assert (correction.from_party, correction.to_party, correction.worker_id) == (
            "property_manager",
            "street_office",
            "w-7",
        )
    back = intake.flows.transfer(ticket_id, STREET, to_party="property_manager", reason="楼道灯属于物业维修范围").ticket
    assert back.escalation_level == "street"
    assert [e.kind for e in back.events][-2:] == ["transferred", "escalated"]
    assert "权责争议" in back.events[-1].note
    assert intake.notifier.kinds(ticket_id) == ["routed", "transferred", "transferred", "escalated"]
    assert count(database, RoutingCorrection) == 2


def test_a_manual_ticket_is_claimed_or_dispatched_by_a_dispatcher(intake: Intake) -> None:
    first = intake.flows.submit(COMPLAINT)[0].ticket.id
    second = intake.flows.submit(Submission(**{**COMPLAINT.__dict__, "text": "小区门口有人占道经营"}))[0].ticket.id
    for ticket_id in (first, second):
        assert intake.triage.send_to_manual(ticket_id, reason="自动分派暂不可用")
    with pytest.raises(NotFound):  # a party's worker does not even see the queue: as if the ticket did not exist
        intake.flows.accept(first, STREET)
    accepted = intake.flows.accept(first, DISPATCHER).ticket
    assert (accepted.status, accepted.party) == (TicketStatus.ACCEPTED, "street_office")
    with pytest.raises(NotFound):
        intake.flows.dispatch(second, OWNERS, to_party="street_office")
    dispatched = intake.flows.dispatch(second, DISPATCHER, to_party="owners_committee", note="属于业委会职责").ticket
    assert (dispatched.status, dispatched.party) == (TicketStatus.ROUTED, "owners_committee")
    assert dispatched.events[-1].kind == "dispatched"
    assert intake.notifier.kinds(second) == ["needs_manual", "routed"]
    with pytest.raises(FailedPrecondition):
        intake.flows.dispatch(second, DISPATCHER, to_party="street_office")


def test_a_ticket_is_resolved_only_after_it_was_accepted(intake: Intake) -> None:
    ticket_id = routed_ticket(intake)
    with pytest.raises(FailedPrecondition):
        intake.flows.resolve(ticket_id, PROPERTY, resolution="已处理")
    assert intake.flows.get(ticket_id).ticket.status == TicketStatus.ROUTED


def test_a_failed_flow_publishes_nothing(intake: Intake) -> None:
    ticket_id = routed_ticket(intake)
    before = len(intake.notifier.events)
    with pytest.raises(InvalidArgument):
        intake.flows.transfer(ticket_id, PROPERTY, to_party="street_office", reason="")
    with pytest.raises(NotFound):
        intake.flows.transfer(ticket_id, STREET, to_party="owners_committee", reason="不归我们")
    assert len(intake.notifier.events) == before


def test_unknown_ticket_is_not_found(intake: Intake) -> None:
    with pytest.raises(NotFound):
        intake.flows.get("no-such-ticket")


def test_listing_pages_by_cursor_newest_first(intake: Intake) -> None:
    ids = [
        intake.flows.submit(Submission(**{**COMPLAINT.__dict__, "text": f"第{i}号投诉内容"}))[0].ticket.id
        for i in range(5)
    ]
    first, token = intake.flows.list(TicketQuery(page_size=2))
    second, token2 = intake.flows.list(TicketQuery(page_size=2, page_token=token))
    third, token3 = intake.flows.list(TicketQuery(page_size=2, page_token=token2))
    assert [v.ticket.id for v in first + second + third] == ids[::-1]
    assert token3 == ""
    with pytest.raises(InvalidArgument):
        intake.flows.list(TicketQuery(page_token="garbage!"))  # noqa: S106 - a cursor, not a password


def test_listing_filters_by_escalation_level(intake: Intake) -> None:
    building = intake.flows.submit(COMPLAINT)[0].ticket.id
    intake.triage.record_triage(building, decision(level=routing_pb2.ESCALATION_LEVEL_BUILDING))
    routed_ticket(intake)
    views, _ = intake.flows.list(TicketQuery(escalation_level=EscalationLevel.BUILDING))
    assert [v.ticket.id for v in views] == [building]


def test_a_decision_for_a_party_nobody_serves_goes_to_the_manual_queue(intake: Intake) -> None:
    ticket_id = intake.flows.submit(COMPLAINT)[0].ticket.id
    assert intake.triage.record_triage(ticket_id, decision("water_affairs")) is TriageOutcome.NEEDS_MANUAL
    ticket = intake.flows.get(ticket_id).ticket
    assert (ticket.status, ticket.party) == (TicketStatus.NEEDS_MANUAL, "")
    assert "water_affairs" in ticket.events[-1].note
