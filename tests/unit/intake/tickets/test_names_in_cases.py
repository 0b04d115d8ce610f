"""Names written by residents and workers reach neither the retrieval index nor the cases it returns."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.intake.database import Database
from services.intake.tickets.learning import SyncAction
from services.intake.tickets.validation import Submission
from services.retrieval import memory as memory_module
from services.retrieval import served_cases
from services.retrieval.cases import CaseFilter, CaseRecord
from services.retrieval.memory import CaseMemory
from services.retrieval.store import CaseStore
from tests.unit.fakes import HashEmbedder
from tests.unit.intake.fakes import PROPERTY, Intake, decision

# Provides the `ticket_database` fixture (SQLite and PostgreSQL).
pytest_plugins = ["tests.unit.intake.database"]


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


def test_a_case_stored_by_an_older_scrubber_comes_out_of_retrieval_without_its_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    memory = CaseMemory(
        HashEmbedder(), CaseStore.from_url(f"sqlite:///{tmp_path / 'cases.sqlite'}"), max_k=5, max_batch=4
    )
    with monkeypatch.context() as older:
        # The scrubber before bare names: other rules, so another fingerprint (ADR 0015).
        older.setattr(served_cases, "scrub", lambda text: text)
        older.setattr(memory_module, "scrubber_fingerprint", lambda: "before-bare-names")
        memory.upsert(
            [CaseRecord("old-1", "张伟把车停在消防通道上", "已联系李建华挪车", "property_manager", "恒康居民区")]
        )

    found = memory.search(text="张伟把车停在消防通道上", k=1, case_filter=CaseFilter())[0][0]

    assert (found.complaint, found.resolution) == ("[姓名]把车停在消防通道上", "已联系[姓名]挪车")
