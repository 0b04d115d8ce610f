"""The audit of the reliability suite finds what it must: lost, untriaged, orphaned and doubly decided tickets."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.reliability.ledger import audit, still_received, triage_times
from bench.reliability.residents import Receipt
from services.intake.database import Database
from services.intake.tickets.context import SYSTEM, EventKind
from services.intake.tickets.models import Ticket
from services.intake.tickets.validation import Submission
from tests.unit.intake.fakes import Intake, decision

COMMUNITY = "恒康居民区"


@pytest.fixture
def intake(tmp_path: Path) -> Intake:
    database = Database(f"sqlite:///{tmp_path / 'tickets.sqlite'}")
    database.upgrade_schema()
    return Intake(database)


def _submit(intake: Intake, key: str, text: str) -> str:
    view, _ = intake.flows.submit(Submission(text=text, community=COMMUNITY, resident_id="r-1", idempotency_key=key))
    return view.ticket.id


def test_a_clean_run_passes(intake: Intake) -> None:
    first, second = _submit(intake, "k-1", "楼道灯坏了好几天"), _submit(intake, "k-2", "电梯停在三楼不动")
    intake.triage.record_triage(first, decision())
    intake.triage.send_to_manual(second, reason="自动分派暂不可用")

    checked = audit(intake.database, [Receipt("k-1", first), Receipt("k-2", second)])

    assert checked.clean
    assert checked.accepted == 2
    assert dict(checked.outcomes) == {"routed": 1, "needs_manual": 1}


def test_the_wait_sees_exactly_the_asked_tickets_still_received(intake: Intake) -> None:
    routed, waiting = _submit(intake, "k-1", "楼道灯坏了好几天"), _submit(intake, "k-2", "电梯停在三楼不动")
    other = _submit(intake, "k-3", "垃圾桶满了没人清")  # received too, but not asked about
    intake.triage.record_triage(routed, decision())

    still = still_received(intake.database, [routed, waiting, "no-such-ticket"])

    assert still == {waiting}
    assert other not in still
    # The same tickets the full read (at the end of a run) finds undecided.
    times = triage_times(intake.database, [routed, waiting])
    assert {ticket_id for ticket_id, triage in times.items() if triage.decided_at is None} == still


def test_an_accepted_ticket_missing_from_the_store_is_lost(intake: Intake) -> None:
    checked = audit(intake.database, [Receipt("k-1", "no-such-ticket")])

    assert checked.lost == ["k-1"]
    assert not checked.clean


def test_a_ticket_never_triaged_is_reported(intake: Intake) -> None:
    ticket_id = _submit(intake, "k-1", "楼道灯坏了好几天")

    checked = audit(intake.database, [Receipt("k-1", ticket_id)])

    assert checked.untriaged == [ticket_id]
    assert not checked.clean


def test_a_second_decision_is_a_double_transition(intake: Intake) -> None:
    ticket_id = _submit(intake, "k-1", "楼道灯坏了好几天")
    intake.triage.record_triage(ticket_id, decision())
    with intake.context.transaction() as work:
        ticket = work.session.get(Ticket, ticket_id)
        assert ticket is not None
        intake.context.record(ticket, EventKind.ROUTED, SYSTEM, to_party="street_office")

    checked = audit(intake.database, [Receipt("k-1", ticket_id)])

    assert checked.double_decisions == [ticket_id]
    assert checked.double_transitions == [ticket_id]


def test_a_ticket_stored_for_a_submitter_who_gave_up_is_an_orphan_not_a_loss(intake: Intake) -> None:
    ticket_id = _submit(intake, "k-1", "楼道灯坏了好几天")
    intake.triage.record_triage(ticket_id, decision())

    checked = audit(intake.database, [Receipt("k-1", error="gave up after 9 attempts")])

    assert (checked.gave_up, checked.orphans, checked.lost) == (1, [ticket_id], [])


def test_a_ticket_decided_twice_counts_as_triaged_twice(intake: Intake) -> None:
    ticket_id = _submit(intake, "k-1", "楼道灯坏了好几天")
    intake.triage.record_triage(ticket_id, decision())
    with intake.context.transaction() as work:
        ticket = work.session.get(Ticket, ticket_id)
        assert ticket is not None
        intake.context.record(ticket, EventKind.NEEDS_MANUAL, SYSTEM)
    untriaged = _submit(intake, "k-2", "电梯停在三楼不动")

    checked = audit(intake.database, [Receipt("k-1", ticket_id), Receipt("k-2", untriaged)])

    assert (checked.decided_twice, checked.triaged_twice) == ([ticket_id], [ticket_id])
    assert checked.never_triaged == [untriaged]
