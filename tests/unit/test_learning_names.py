"""Names written by residents and workers never reach the retrieval index through the learning loop."""

from __future__ import annotations

import pytest

from services.intake.database import Database
from services.intake.tickets.learning import SyncAction
from services.intake.tickets.validation import Submission
from tests.unit.intake_fakes import PROPERTY, Intake, decision

# Provides the `ticket_database` fixture (SQLite and PostgreSQL).
pytest_plugins = ["tests.unit.intake_database"]


@pytest.fixture
def intake(ticket_database: Database) -> Intake:
    return Intake(ticket_database)


def test_a_resolved_case_sent_to_retrieval_holds_no_bare_name(intake: Intake) -> None:
    submission = Submission(
        text="张伟昨天又把车停在消防通道上,说了好几次都不听",
        community="恒康居民区",
        resident_id="r-1",
        building="3号楼",
    )
    ticket_id = intake.flows.submit(submission)[0].ticket.id
    intake.triage.record_triage(ticket_id, decision(entry_id="fire_lane_blocked"))
    intake.flows.accept(ticket_id, PROPERTY)
    intake.flows.resolve(ticket_id, PROPERTY, resolution="已联系李建华,明天上门维修")

    sync = intake.learning.pending_case_sync(ticket_id)

    assert sync is not None
    assert sync.action is SyncAction.UPSERT
    assert sync.case is not None
    assert sync.case.complaint == "[姓名]昨天又把车停在消防通道上,说了好几次都不听"
    assert sync.case.resolution == "已联系[姓名],明天上门维修"
