"""Splitting a ticket ("一单多事"): one message, several problems, one ticket per problem; on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from linli.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from services.intake.database import Database
from services.intake.metrics import API_REGISTRY
from services.intake.tickets.models import Ticket, TicketStatus
from services.intake.tickets.repository import TicketQuery
from services.intake.tickets.validation import Submission
from services.intake.triage.flows import TriageOutcome
from tests.unit.intake.fakes import DISPATCHER, ELSEWHERE, PROPERTY, STREET, Intake, decision, embedding

# Provides the `ticket_database` fixture (SQLite and PostgreSQL).
pytest_plugins = ["tests.unit.intake.database"]

TWO_PROBLEMS = Submission(
    text="楼道灯坏了好几天了,另外小区门口总有车停在消防通道上",
    community="恒康居民区",
    resident_id="r-1",
    building="3号楼",
    attachment_urls=("https://img.example.cn/light.jpg",),
    latitude=31.2304,
    longitude=121.4737,
)
FIRE_LANE = "小区门口总有车停在消防通道上"
SAME_WORDS = embedding(1.0, 0.0, 0.0)  # every message and passage below reads the same to the embedding


@pytest.fixture
def database(ticket_database: Database) -> Database:
    return ticket_database


@pytest.fixture
def intake(database: Database) -> Intake:
    return Intake(database)


def tickets_stored(database: Database) -> int:
    with database.unit_of_work() as session:
        return int(session.scalar(select(func.count()).select_from(Ticket)) or 0)


def submitted(intake: Intake, **change: str) -> str:
    return intake.flows.submit(Submission(**{**TWO_PROBLEMS.__dict__, **change}))[0].ticket.id


def routed(intake: Intake) -> str:
    ticket_id = submitted(intake)
    assert intake.triage.record_triage(ticket_id, decision(), SAME_WORDS) is TriageOutcome.ROUTED
    return ticket_id


def test_a_further_problem_becomes_a_ticket_of_the_same_resident_queued_for_triage(intake: Intake) -> None:
    origin_id = routed(intake)
    counted = API_REGISTRY.get_sample_value("linli_intake_tickets_split_total") or 0.0
    split = intake.flows.split(origin_id, PROPERTY, text=f"  {FIRE_LANE}\n").ticket
    assert API_REGISTRY.get_sample_value("linli_intake_tickets_split_total") == counted + 1
    assert (split.text, split.status, split.split_from_id) == (FIRE_LANE, TicketStatus.RECEIVED, origin_id)
    assert (split.resident_id, split.community, split.building) == ("r-1", "恒康居民区", "3号楼")
    assert (split.latitude, split.longitude) == (31.2304, 121.4737)
    assert split.attachment_urls == []  # the photos showed the first problem: they stay with it
    assert intake.queue.triage == [origin_id, split.id]  # stored, then queued, as a submission
    assert intake.triage.pending_triage(split.id) is not None

    new = intake.flows.get(split.id).ticket
    assert [(e.kind, e.actor, e.party) for e in new.events] == [("split_off", "worker:w-7", "property_manager")]
    assert origin_id in new.events[0].note
    origin = intake.flows.get(origin_id)
    assert origin.split_ids == [split.id]
    assert origin.ticket.status == TicketStatus.ROUTED  # the first problem stays where it was
    last = origin.ticket.events[-1]
    assert (last.kind, last.actor, last.party) == ("split", "worker:w-7", "property_manager")
    assert split.id in last.note
    mine, _ = intake.flows.list(TicketQuery(resident_id="r-1"))
    assert {view.ticket.id for view in mine} == {origin_id, split.id}
    # A list shows the splits too (an inbox marks messages still holding a problem nobody split off).
    assert {view.ticket.id: view.split_ids for view in mine} == {origin_id: [split.id], split.id: []}


def test_a_split_ticket_lives_its_own_life_and_the_resident_rates_it(intake: Intake) -> None:
    origin_id = routed(intake)
    split_id = intake.flows.split(origin_id, PROPERTY, text=FIRE_LANE).ticket.id
    assert intake.triage.record_triage(split_id, decision("street_office"), SAME_WORDS) is TriageOutcome.ROUTED
    intake.flows.accept(split_id, STREET)
    intake.flows.resolve(split_id, STREET, resolution="已联系城管清理消防通道并设置禁停标志")
    rated = intake.flows.rate(split_id, resident_id="r-1", score=5).ticket
    assert (rated.status, rated.party) == (TicketStatus.CLOSED, "street_office")
    assert intake.flows.get(origin_id).ticket.status == TicketStatus.ROUTED


def test_a_dispatcher_splits_a_ticket_of_the_manual_queue(intake: Intake) -> None:
    ticket_id = intake.flows.submit(TWO_PROBLEMS)[0].ticket.id
    assert intake.triage.send_to_manual(ticket_id, reason="系统没有把握")
    with pytest.raises(NotFound):  # a party's worker does not see the manual queue
        intake.flows.split(ticket_id, STREET, text=FIRE_LANE)
    split = intake.flows.split(ticket_id, DISPATCHER, text=FIRE_LANE).ticket
    assert split.events[0].party == "street_office"
    assert intake.flows.get(ticket_id).ticket.status == TicketStatus.NEEDS_MANUAL


def test_only_the_tickets_party_splits_it_and_only_while_it_is_open(intake: Intake, database: Database) -> None:
    origin_id = routed(intake)
    received_id = submitted(intake, text="电梯坏了,垃圾也没人清")
    merged_id = submitted(intake, text="楼道灯坏了,门口消防通道被占")
    assert intake.triage.record_triage(merged_id, decision(), SAME_WORDS) is TriageOutcome.MERGED
    before = (tickets_stored(database), list(intake.queue.triage))
    with pytest.raises(NotFound):
        intake.flows.split(origin_id, STREET, text=FIRE_LANE)
    with pytest.raises(NotFound):
        intake.flows.split(origin_id, ELSEWHERE, text=FIRE_LANE)  # the right party, another community
    with pytest.raises(NotFound):  # not triaged yet: nobody's to act on
        intake.flows.split(received_id, PROPERTY, text=FIRE_LANE)
    with pytest.raises(FailedPrecondition):  # its primary's message is the one to split
        intake.flows.split(merged_id, PROPERTY, text=FIRE_LANE)
    intake.flows.accept(origin_id, PROPERTY)
    intake.flows.resolve(origin_id, PROPERTY, resolution="已更换楼道灯")
    with pytest.raises(FailedPrecondition):
        intake.flows.split(origin_id, PROPERTY, text=FIRE_LANE)
    assert (tickets_stored(database), intake.queue.triage) == before


@pytest.mark.parametrize(
    ("text", "field"), [("", "text"), ("  车 ", "text"), ("长" * 2001, "text"), ("占道\x00", "text")]
)
def test_a_bad_passage_names_the_field_and_writes_nothing(
    intake: Intake, database: Database, text: str, field: str
) -> None:
    origin_id = routed(intake)
    with pytest.raises(InvalidArgument) as raised:
        intake.flows.split(origin_id, PROPERTY, text=text)
    assert [v.field for v in raised.value.violations] == [field]
    assert tickets_stored(database) == 1
    assert intake.flows.get(origin_id).split_ids == []


def test_the_same_passage_is_split_off_once(intake: Intake, database: Database) -> None:
    origin_id = routed(intake)
    first = intake.flows.split(origin_id, PROPERTY, text=FIRE_LANE).ticket.id
    with pytest.raises(AlreadyExists, match=first):
        intake.flows.split(origin_id, PROPERTY, text=f" {FIRE_LANE} ")
    other = intake.flows.split(origin_id, PROPERTY, text="小区门口的消防通道被私家车占了").ticket.id
    assert intake.flows.get(origin_id).split_ids == [first, other]
    assert tickets_stored(database) == 3


def test_a_split_ticket_is_never_merged_into_its_message_nor_its_siblings(intake: Intake) -> None:
    origin_id = routed(intake)
    first = intake.flows.split(origin_id, PROPERTY, text=FIRE_LANE).ticket.id
    second = intake.flows.split(origin_id, PROPERTY, text="3号楼门口的垃圾桶满了没人清").ticket.id
    # The passages' words are the message's: the embedding finds them "the same" as the message and each other.
    assert intake.triage.record_triage(first, decision("street_office"), SAME_WORDS) is TriageOutcome.ROUTED
    assert intake.triage.record_triage(second, decision(), SAME_WORDS) is TriageOutcome.ROUTED
    # A neighbour's report of the same words is still a duplicate of the earliest open ticket.
    neighbour = submitted(intake, resident_id="r-2")
    assert intake.triage.record_triage(neighbour, decision(), SAME_WORDS) is TriageOutcome.MERGED
    assert intake.flows.get(neighbour).ticket.primary_id == origin_id
