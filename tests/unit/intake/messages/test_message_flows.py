"""The conversation's flows on a real database: who reads and writes what, and how a question stops the SLA clock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from linli.errors import FailedPrecondition, InvalidArgument, NotFound
from services.intake.auth import Resident, Service
from services.intake.database import Database
from services.intake.messages.flows import NewMessage
from services.intake.residents.erasure import ErasureFlows
from services.intake.tickets.models import TicketStatus
from services.intake.tickets.validation import Submission
from services.intake.triage.flows import TriageOutcome
from tests.unit.intake.fakes import DISPATCHER, ELSEWHERE, OWNERS, PROPERTY, Intake, decision

# Provides the `ticket_database` fixture (SQLite and PostgreSQL).
pytest_plugins = ["tests.unit.intake.database"]

COMPLAINT = Submission(text="楼道灯坏了好几天了", community="恒康居民区", resident_id="r-1", building="3号楼")
RESIDENT = Resident("r-1")
QUESTION = NewMessage("请问是哪个单元的楼道?", asks_resident=True)
ANSWER = NewMessage("2 单元,三楼到五楼都不亮")


@pytest.fixture
def intake(ticket_database: Database) -> Intake:
    return Intake(ticket_database)


def routed_ticket(intake: Intake) -> str:
    ticket_id = intake.flows.submit(COMPLAINT)[0].ticket.id
    assert intake.triage.record_triage(ticket_id, decision("property_manager")) is TriageOutcome.ROUTED
    return ticket_id


def test_a_question_makes_the_ticket_wait_and_tells_the_resident(intake: Intake) -> None:
    ticket_id = routed_ticket(intake)
    posted = intake.messages.post(ticket_id, PROPERTY, QUESTION)
    ticket = posted.ticket.ticket
    assert ticket.status == TicketStatus.WAITING_RESIDENT
    assert ticket.status_before_waiting == TicketStatus.ROUTED
    assert ticket.waiting_since == posted.message.created_at
    assert [e.kind for e in ticket.events][-1] == "asked_resident"
    event = intake.notifier.events[-1]
    assert (event.kind, event.resident_openid, event.payload["asks_resident"]) == ("worker_message", "r-1", True)
    assert "哪个单元" not in str(event.payload)  # the text never leaves in a notification


def test_the_answer_resumes_the_ticket_and_moves_its_deadline_by_the_wait(intake: Intake) -> None:
    ticket_id = routed_ticket(intake)
    intake.flows.accept(ticket_id, PROPERTY)
    due_before = intake.flows.get(ticket_id).ticket.sla_due_at
    assert due_before is not None
    asked_at = intake.messages.post(ticket_id, PROPERTY, QUESTION).message.created_at
    intake.clock.now += timedelta(hours=30)
    answer = intake.messages.post(ticket_id, RESIDENT, ANSWER)
    waited = answer.message.created_at - asked_at
    ticket = answer.ticket.ticket
    assert ticket.status == TicketStatus.ACCEPTED
    assert ticket.sla_due_at == due_before + waited
    assert ticket.sla_paused_seconds == int(waited.total_seconds())
    assert (ticket.waiting_since, ticket.status_before_waiting) == (None, "")
    assert ticket.events[-1].kind == "resident_answered"
    assert ticket.events[-1].note.endswith("顺延 1 天 6 小时")
    assert intake.notifier.events[-1].kind == "resident_message"
    assert intake.notifier.events[-1].payload["resumed"] is True


def test_the_escalation_sweep_skips_a_waiting_ticket_and_later_uses_the_moved_deadline(intake: Intake) -> None:
    ticket_id = routed_ticket(intake)
    due = intake.flows.get(ticket_id).ticket.sla_due_at
    assert due is not None
    intake.messages.post(ticket_id, PROPERTY, QUESTION)
    intake.clock.now = due + timedelta(hours=1)
    assert intake.sweeps.escalate_overdue() == 0
    assert intake.flows.get(ticket_id).ticket.status == TicketStatus.WAITING_RESIDENT
    moved = intake.messages.post(ticket_id, RESIDENT, ANSWER).ticket.ticket.sla_due_at
    assert moved is not None
    assert moved > intake.clock.now
    assert intake.sweeps.escalate_overdue() == 0
    intake.clock.now = moved + timedelta(seconds=1)
    assert intake.sweeps.escalate_overdue() == 1


def test_a_second_question_while_waiting_does_not_restart_the_pause(intake: Intake) -> None:
    ticket_id = routed_ticket(intake)
    first = intake.messages.post(ticket_id, PROPERTY, QUESTION).ticket.ticket.waiting_since
    intake.clock.now += timedelta(hours=2)
    second = intake.messages.post(ticket_id, PROPERTY, NewMessage("还有,是白天还是晚上不亮?", asks_resident=True))
    assert second.ticket.ticket.waiting_since == first
    assert second.ticket.ticket.status_before_waiting == TicketStatus.ROUTED


def test_an_internal_note_is_invisible_to_the_resident_and_tells_nobody(intake: Intake) -> None:
    ticket_id = routed_ticket(intake)
    published = len(intake.notifier.events)
    intake.messages.post(ticket_id, PROPERTY, NewMessage("这户上次也报过,先查线路", internal=True))
    intake.messages.post(ticket_id, PROPERTY, NewMessage("已安排电工明天上门"))
    assert [m.text for m in intake.messages.thread(ticket_id, RESIDENT)] == ["已安排电工明天上门"]
    worker_view = intake.messages.thread(ticket_id, PROPERTY)
    assert [m.internal for m in worker_view] == [True, False]
    assert intake.notifier.kinds(ticket_id)[published:] == ["worker_message"]
    assert intake.flows.get(ticket_id).ticket.status == TicketStatus.ROUTED


def test_only_the_resident_and_workers_who_see_the_ticket_take_part(intake: Intake) -> None:
    ticket_id = routed_ticket(intake)
    for stranger in (Resident("r-2"), OWNERS, ELSEWHERE, Service("worker")):
        with pytest.raises(NotFound):
            intake.messages.thread(ticket_id, stranger)
        with pytest.raises(NotFound):
            intake.messages.post(ticket_id, stranger, ANSWER)
    with pytest.raises(NotFound):
        intake.messages.thread("no-such-ticket", PROPERTY)


def test_the_manual_queue_conversation_is_the_dispatchers(intake: Intake) -> None:
    ticket_id = intake.flows.submit(COMPLAINT)[0].ticket.id
    intake.triage.record_triage(ticket_id, decision(abstained=True))
    posted = intake.messages.post(ticket_id, DISPATCHER, QUESTION)
    assert posted.ticket.ticket.status == TicketStatus.WAITING_RESIDENT
    resumed = intake.messages.post(ticket_id, RESIDENT, ANSWER).ticket.ticket
    assert resumed.status == TicketStatus.NEEDS_MANUAL


def test_residents_cannot_write_notes_or_questions(intake: Intake) -> None:
    ticket_id = routed_ticket(intake)
    with pytest.raises(InvalidArgument, match="内部备注"):
        intake.messages.post(ticket_id, RESIDENT, NewMessage("我想留个备注", internal=True))
    with pytest.raises(InvalidArgument, match="工作人员"):
        intake.messages.post(ticket_id, RESIDENT, NewMessage("我想提个问", asks_resident=True))
    with pytest.raises(InvalidArgument, match="内部备注"):
        intake.messages.post(ticket_id, PROPERTY, NewMessage("这是问题吗", internal=True, asks_resident=True))
    assert intake.messages.thread(ticket_id, PROPERTY) == []


@pytest.mark.parametrize("text", ["\u200b\u200b\u200b", "a", "坏\ud800了", "灯\u202e坏了", "x" * 2001, "灯\x07坏"])
def test_message_text_follows_the_ticket_text_rule(intake: Intake, text: str) -> None:
    ticket_id = routed_ticket(intake)
    with pytest.raises(InvalidArgument) as raised:
        intake.messages.post(ticket_id, RESIDENT, NewMessage(text))
    assert [v.field for v in raised.value.violations] == ["text"]


def test_photo_links_must_be_http(intake: Intake) -> None:
    ticket_id = routed_ticket(intake)
    with pytest.raises(InvalidArgument) as raised:
        intake.messages.post(ticket_id, RESIDENT, NewMessage("看照片", attachment_urls=("file:///etc/passwd",)))
    assert [v.field for v in raised.value.violations] == ["attachment_urls[0]"]


def test_resident_messages_are_unread_until_a_worker_reads_the_thread(intake: Intake) -> None:
    ticket_id = routed_ticket(intake)
    intake.messages.post(ticket_id, RESIDENT, NewMessage("灯还是不亮"))
    intake.messages.post(ticket_id, RESIDENT, NewMessage("晚上很危险"))
    assert intake.flows.get(ticket_id).ticket.unread_resident_messages == 2
    intake.messages.thread(ticket_id, RESIDENT)
    assert intake.flows.get(ticket_id).ticket.unread_resident_messages == 2
    intake.messages.thread(ticket_id, PROPERTY)
    assert intake.flows.get(ticket_id).ticket.unread_resident_messages == 0


def test_a_question_needs_an_open_ticket(intake: Intake) -> None:
    ticket_id = routed_ticket(intake)
    intake.flows.accept(ticket_id, PROPERTY)
    intake.flows.resolve(ticket_id, PROPERTY, resolution="已更换灯泡")
    with pytest.raises(FailedPrecondition):
        intake.messages.post(ticket_id, PROPERTY, QUESTION)
    # A plain message on a resolved ticket is still fine: the resident may thank or complain.
    assert intake.messages.post(ticket_id, RESIDENT, NewMessage("谢谢,已经亮了")).ticket.ticket.status == "resolved"


def test_a_waiting_ticket_can_be_resolved_and_stops_waiting(intake: Intake) -> None:
    ticket_id = routed_ticket(intake)
    intake.flows.accept(ticket_id, PROPERTY)
    intake.messages.post(ticket_id, PROPERTY, QUESTION)
    resolved = intake.flows.resolve(ticket_id, PROPERTY, resolution="居民未答复,已逐层检查并更换灯泡").ticket
    assert (resolved.status, resolved.waiting_since, resolved.sla_due_at) == ("resolved", None, None)


def test_erasure_scrubs_the_conversation(intake: Intake) -> None:
    ticket_id = routed_ticket(intake)
    intake.messages.post(ticket_id, RESIDENT, NewMessage("我电话 13812345678,随时联系"))
    intake.messages.post(ticket_id, PROPERTY, NewMessage("好的,会打 13812345678 联系您"))
    ErasureFlows(intake.context).erase_resident("r-1", actor=None)
    thread = intake.messages.thread(ticket_id, PROPERTY)
    assert all("13812345678" not in m.text for m in thread)
    assert thread[0].actor.startswith("resident:erased:")
    assert thread[1].actor == PROPERTY.actor


def test_the_conversation_never_reaches_the_learned_case(intake: Intake) -> None:
    ticket_id = routed_ticket(intake)
    intake.messages.post(ticket_id, RESIDENT, NewMessage("我是 2 单元 301 的张三,电话 13812345678"))
    intake.messages.post(ticket_id, PROPERTY, NewMessage("张三家楼上漏水,顺便查", internal=True))
    intake.flows.accept(ticket_id, PROPERTY)
    intake.flows.resolve(ticket_id, PROPERTY, resolution="已更换楼道灯泡")
    sync = intake.learning.pending_case_sync(ticket_id)
    assert sync is not None
    assert sync.case is not None
    learned = f"{sync.case.complaint} {sync.case.resolution}"
    assert "13812345678" not in learned
    assert "漏水" not in learned
