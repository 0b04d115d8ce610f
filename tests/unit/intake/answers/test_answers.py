"""Instant answers: only questions, only confident precedents that the catalog does not contradict, scrubbed."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from linli.catalog import Catalog, load_catalog
from linli.errors import InvalidArgument, LinliError, Unavailable
from services.intake.answers.flows import DEFAULT_MIN_SIMILARITY, Answerer, NoAnswerReason, reads_like_question
from services.intake.answers.http import answer_out
from services.intake.answers.precedents import Precedent
from services.intake.auth import Resident
from services.intake.database import Database
from services.intake.settings import DEFAULT_COMMUNITIES, IntakeSettings
from services.intake.tickets.context import FlowContext
from services.intake.tickets.flows import TicketFlows
from services.intake.web import mount_faces
from tests.conftest import free_port
from tests.tokens import as_resident
from tests.unit.intake.fakes import PROPERTY, RecordingTaskQueue, face_services, http_security

LIGHT_CASE = Precedent(
    case_id="starter-0042",
    complaint="3号楼楼道灯坏了,我是王建国,电话13812345678",
    resolution="物业电工当天更换了声控灯,联系人李师傅13912345678。",
    party="property_manager",
    category="stairwell_light",
    score=0.91,
)


class FakeSearch:
    """Answers every search with the given precedents and remembers what it was asked."""

    def __init__(self, *precedents: Precedent, error: Exception | None = None) -> None:
        self.precedents = list(precedents)
        self.error = error
        self.asked: list[str] = []

    def similar_resolved(self, text: str, *, k: int) -> list[Precedent]:
        self.asked.append(text)
        if self.error is not None:
            raise self.error
        return self.precedents[:k]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def answerer(catalog: Catalog, search: FakeSearch) -> Answerer:
    return Answerer(search, catalog, DEFAULT_COMMUNITIES)


@pytest.mark.parametrize(
    ("text", "question"),
    [
        ("楼道灯坏了归谁管?", True),
        ("请问电动车可以在楼道充电吗", True),
        ("垃圾没人清运,找谁?", True),
        ("能不能在小区里装个充电桩", True),
        ("3号楼楼道灯坏了", False),
        ("楼上漏水把我家天花板泡坏了。", False),
    ],
)
def test_questions_are_told_from_reports(text: str, question: bool) -> None:
    assert reads_like_question(text) is question


def test_a_confident_precedent_answers_a_question_scrubbed(catalog: Catalog) -> None:
    search = FakeSearch(LIGHT_CASE)
    outcome = answerer(catalog, search).answer(" 楼道灯坏了归谁管? ", "恒康居民区")
    answer = outcome.answer
    assert answer is not None
    assert search.asked == ["楼道灯坏了归谁管?"]
    assert (answer.party, answer.party_name) == ("property_manager", "物业服务企业")
    assert "更换了声控灯" in answer.text
    assert "13912345678" not in answer.text
    assert "13812345678" not in answer.precedent.complaint
    assert answer.entry is not None
    assert answer.entry.id == "stairwell_light_broken"
    assert answer.entry.party == "property_manager"


def test_a_report_is_not_answered_and_retrieval_is_not_asked(catalog: Catalog) -> None:
    search = FakeSearch(LIGHT_CASE)
    outcome = answerer(catalog, search).answer("3号楼楼道灯坏了好几天", "恒康居民区")
    assert (outcome.answer, outcome.reason) == (None, NoAnswerReason.NOT_A_QUESTION)
    assert search.asked == []


def test_a_distant_precedent_is_no_answer(catalog: Catalog) -> None:
    far = Precedent(**{**LIGHT_CASE.__dict__, "score": DEFAULT_MIN_SIMILARITY - 0.01})
    outcome = answerer(catalog, FakeSearch(far)).answer("楼道灯坏了归谁管?", "恒康居民区")
    assert (outcome.answer, outcome.reason) == (None, NoAnswerReason.NO_CONFIDENT_PRECEDENT)
    assert answerer(catalog, FakeSearch()).answer("楼道灯坏了归谁管?", "恒康居民区").answer is None


def test_a_precedent_the_catalog_contradicts_is_no_answer(catalog: Catalog) -> None:
    wrong_party = Precedent(**{**LIGHT_CASE.__dict__, "party": "owners_committee"})
    outcome = answerer(catalog, FakeSearch(wrong_party)).answer("楼道灯坏了归谁管?", "恒康居民区")
    assert (outcome.answer, outcome.reason) == (None, NoAnswerReason.CATALOG_DISAGREES)


def test_retrieval_down_means_no_answer_not_an_error(catalog: Catalog) -> None:
    search = FakeSearch(error=Unavailable("retrieval: connection refused"))
    outcome = answerer(catalog, search).answer("楼道灯坏了归谁管?", "恒康居民区")
    assert (outcome.answer, outcome.reason) == (None, NoAnswerReason.RETRIEVAL_UNAVAILABLE)


def test_bad_fields_are_named(catalog: Catalog) -> None:
    with pytest.raises(InvalidArgument) as raised:
        answerer(catalog, FakeSearch()).answer("?", "火星小区")
    assert {v.field for v in raised.value.violations} == {"text", "community"}


def test_the_answer_in_api_form_shows_the_precedent_to_workers_only(catalog: Catalog) -> None:
    close_too = Precedent(**{**LIGHT_CASE.__dict__, "case_id": "starter-0043", "score": 0.86})
    outcome = answerer(catalog, FakeSearch(LIGHT_CASE, close_too)).answer("楼道灯坏了归谁管?", "恒康居民区")
    for_worker = answer_out(outcome, PROPERTY).model_dump()
    for_resident = answer_out(outcome, Resident("r-2")).model_dump()

    assert for_worker["answered"] is True
    assert for_worker["answer"]["catalog_entry"]["entry_id"] == "stairwell_light_broken"
    assert for_worker["answer"]["precedent"]["case_id"] == "starter-0042"
    assert for_resident["answer"]["precedent"] is None
    assert for_resident["answer"]["similar_resolved_count"] == 2
    assert for_resident["answer"]["text"] == for_worker["answer"]["text"]
    unanswered = answer_out(answerer(catalog, FakeSearch(LIGHT_CASE)).answer("楼道灯坏了", "恒康居民区"), PROPERTY)
    assert (unanswered.answered, unanswered.reason, unanswered.answer) == (False, "not_a_question", None)


def test_the_endpoint_answers_without_retrieval_and_names_bad_fields(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'tickets.sqlite'}")
    app = FastAPI()
    settings = IntakeSettings(retrieval_target=f"127.0.0.1:{free_port()}", rpc_timeout_seconds=2)
    mount_faces(app, face_services(TicketFlows(FlowContext(database, RecordingTaskQueue())), database, settings))

    async def status_only(_request: Request, error: Exception) -> JSONResponse:
        return JSONResponse({}, status_code=error.http_status if isinstance(error, LinliError) else 500)

    app.add_exception_handler(LinliError, status_only)
    app.state.security = http_security()
    client = TestClient(app, headers=as_resident("r-1"))
    question = {"text": "楼道灯坏了归谁管?", "community": "恒康居民区"}
    assert client.post("/v1/answers", json=question, headers={"Authorization": ""}).status_code == 401
    reply = client.post("/v1/answers", json=question)
    assert reply.status_code == 200
    assert reply.json() == {"answered": False, "reason": "retrieval_unavailable", "answer": None}
    assert client.post("/v1/answers", json={"text": "楼道灯坏了归谁管?", "community": "火星小区"}).status_code == 422
    database.dispose()
