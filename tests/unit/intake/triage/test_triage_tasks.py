"""The Celery tasks' bodies with fake routing and retrieval clients, and the no-loss configuration of the app."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest
from celery import Celery
from celery.exceptions import DuplicateTaskNameWarning

from linli.clients.retrieval import EmbeddedTexts, RetrievalClient
from linli.clients.routing import RoutedComplaint, RoutingClient
from linli.errors import InvalidArgument, Unavailable
from linli.grpc_auth import ServiceCredentials
from linli.v1 import cases_pb2
from services.intake.database import Database
from services.intake.notifications import DELIVER_TASK, NotificationSettings
from services.intake.notifications import register_tasks as register_notification_tasks
from services.intake.settings import IntakeSettings
from services.intake.tickets.models import TicketStatus
from services.intake.tickets.validation import Submission
from services.intake.triage.flows import TriageOutcome
from services.intake.uploads.settings import UploadSettings
from services.intake.uploads.storage import LinkSigner, LocalObjectStore
from services.intake.worker import main as worker_main
from services.intake.worker.celery_app import (
    AUTO_CLOSE_TASK,
    CASE_SYNC_TASK,
    ESCALATE_TASK,
    LIFECYCLE_QUEUE,
    PHOTO_SWEEP_TASK,
    REQUEUE_TASK,
    RETENTION_TASK,
    TRIAGE_TASK,
    create_celery_app,
)
from services.intake.worker.main import CELERY_TASK_LOGGERS, quiet_task_lines, worker_argv
from services.intake.worker.tasks import TaskDeps, backoff_seconds, register_tasks, sync_case, triage_ticket
from tests.local_servers import intake_config
from tests.unit.intake.fakes import (
    PROPERTY,
    Intake,
    decision,
)

# Provides the `ticket_database` fixture (SQLite and PostgreSQL).
pytest_plugins = ["tests.unit.intake.database"]

COMPLAINT = Submission(text="楼道灯坏了好几天了", community="恒康居民区", resident_id="r-1")


# What the fake routing sends back of a text: not the fake retrieval's vector, so a test tells whose was stored.
ROUTING_MODEL = "routing-fake"


def routing_vector() -> EmbeddedTexts:
    return EmbeddedTexts(np.asarray([[0.8, 0.6, 0.0, 0.0]], dtype=np.float32), ROUTING_MODEL)


class FakeRouting:
    """Answers with a decision and the text's vector (or none: a long letter, an older server), or fails like a
    dead routing service."""

    def __init__(self, *, failure: Exception | None = None, returns_vector: bool = True) -> None:
        self.failure = failure
        self.returns_vector = returns_vector
        self.calls = 0
        self.texts: list[str] = []  # the text each call was sent

    def route(self, *, text: str, community: str, building: str) -> RoutedComplaint:
        # No `embedding` parameter: a worker still sending its own vector would fail here.
        self.calls += 1
        self.texts.append(text)
        if self.failure is not None:
            raise self.failure
        return RoutedComplaint(decision("property_manager"), routing_vector() if self.returns_vector else None)


class FakeRetrieval:
    """Embeds every text to one vector (so everything is a duplicate) and records the cases it was sent."""

    def __init__(self, *, down: bool = False) -> None:
        self.down = down
        self.upserted: list[cases_pb2.Case] = []
        self.deleted: list[str] = []
        self.embedded: list[list[str]] = []  # the texts of each Embed call

    def embed(self, texts: list[str]) -> EmbeddedTexts:
        self.embedded.append(list(texts))
        if self.down:
            raise Unavailable("retrieval: down")
        return EmbeddedTexts(np.full((len(texts), 4), 0.5, dtype=np.float32), "fake")

    def upsert_cases(self, cases: list[cases_pb2.Case]) -> None:
        if self.down:
            raise Unavailable("retrieval: down")
        self.upserted.extend(cases)

    def delete_cases(self, case_ids: list[str]) -> None:
        if self.down:
            raise Unavailable("retrieval: down")
        self.deleted.extend(case_ids)


def deps_for(intake: Intake, routing: FakeRouting, retrieval: FakeRetrieval) -> TaskDeps:
    return TaskDeps(
        triage=intake.triage,
        learning=intake.learning,
        sweeps=intake.sweeps,
        routing=cast(RoutingClient, routing),
        retrieval=cast(RetrievalClient, retrieval),
    )


@pytest.fixture
def intake(ticket_database: Database) -> Intake:
    return Intake(ticket_database)


def test_triage_routes_once_and_a_redelivery_does_nothing(intake: Intake) -> None:
    routing, retrieval = FakeRouting(), FakeRetrieval()
    ticket_id = intake.flows.submit(COMPLAINT)[0].ticket.id
    assert triage_ticket(ticket_id, deps_for(intake, routing, retrieval)) is TriageOutcome.ROUTED
    assert triage_ticket(ticket_id, deps_for(intake, routing, retrieval)) is TriageOutcome.ALREADY_TRIAGED
    assert routing.calls == 1
    second = intake.flows.submit(Submission(**{**COMPLAINT.__dict__, "text": "楼道的灯不亮了"}))[0].ticket.id
    assert triage_ticket(second, deps_for(intake, routing, retrieval)) is TriageOutcome.MERGED


def test_triage_without_embeddings_still_routes(intake: Intake) -> None:
    ticket_id = intake.flows.submit(COMPLAINT)[0].ticket.id
    routing, retrieval = FakeRouting(returns_vector=False), FakeRetrieval(down=True)
    outcome = triage_ticket(ticket_id, deps_for(intake, routing, retrieval))
    assert outcome is TriageOutcome.ROUTED
    assert intake.flows.get(ticket_id).ticket.embedding is None
    assert retrieval.embedded == [[COMPLAINT.text]]  # tried once, then routed without duplicates


def stored_vector(intake: Intake, ticket_id: str) -> tuple[str | None, bytes | None]:
    ticket = intake.flows.get(ticket_id).ticket
    return ticket.embedding_model, ticket.embedding


def vector_bytes(embedded: EmbeddedTexts) -> bytes:
    return bytes(embedded.vectors[0].astype("<f4").tobytes())


def test_duplicates_use_the_vector_routing_returned_and_the_worker_embeds_nothing(intake: Intake) -> None:
    routing, retrieval = FakeRouting(), FakeRetrieval()
    texts = ["楼道灯坏了好几天了", "小区东门的路面塌了一个坑", "楼上每天半夜装修,吵得睡不着"]
    ids = [intake.flows.submit(Submission(**{**COMPLAINT.__dict__, "text": text}))[0].ticket.id for text in texts]
    for ticket_id in ids:
        triage_ticket(ticket_id, deps_for(intake, routing, retrieval))
    assert routing.texts == texts  # one Route per ticket, of the text as submitted
    assert retrieval.embedded == []  # no Embed call of the worker's own
    assert stored_vector(intake, ids[0]) == (ROUTING_MODEL, vector_bytes(routing_vector()))


def test_the_duplicate_check_needs_no_retrieval_when_routing_returned_the_vector(intake: Intake) -> None:
    routing, retrieval = FakeRouting(), FakeRetrieval(down=True)
    ticket_id = intake.flows.submit(COMPLAINT)[0].ticket.id
    assert triage_ticket(ticket_id, deps_for(intake, routing, retrieval)) is TriageOutcome.ROUTED
    assert retrieval.embedded == []
    assert stored_vector(intake, ticket_id) == (ROUTING_MODEL, vector_bytes(routing_vector()))


def test_without_routings_vector_the_worker_embeds_the_text_once_itself(intake: Intake) -> None:
    routing, retrieval = FakeRouting(returns_vector=False), FakeRetrieval()  # a long letter, or an older server
    ids = [intake.flows.submit(COMPLAINT)[0].ticket.id, intake.flows.submit(COMPLAINT)[0].ticket.id]
    outcomes = [triage_ticket(ticket_id, deps_for(intake, routing, retrieval)) for ticket_id in ids]
    assert outcomes == [TriageOutcome.ROUTED, TriageOutcome.MERGED]  # the worker's vectors still find duplicates
    assert retrieval.embedded == [[COMPLAINT.text], [COMPLAINT.text]]  # one Embed of one text per ticket
    expected = ("fake", vector_bytes(EmbeddedTexts(np.full((1, 4), 0.5, dtype=np.float32), "fake")))
    assert stored_vector(intake, ids[0]) == expected


def test_with_sharing_off_the_worker_embeds_itself_and_ignores_routings_vector(intake: Intake) -> None:
    routing, retrieval = FakeRouting(), FakeRetrieval()
    deps = replace(deps_for(intake, routing, retrieval), share_embedding=False)
    ticket_id = intake.flows.submit(COMPLAINT)[0].ticket.id
    triage_ticket(ticket_id, deps)
    assert routing.calls == 1
    assert retrieval.embedded == [[COMPLAINT.text]]
    assert stored_vector(intake, ticket_id)[0] == "fake"  # the worker's own vector, not routing's


def test_with_duplicates_off_nothing_is_embedded_or_stored(intake: Intake) -> None:
    for returns_vector in (True, False):
        routing, retrieval = FakeRouting(returns_vector=returns_vector), FakeRetrieval()
        deps = replace(deps_for(intake, routing, retrieval), detect_duplicates=False)
        ticket_id = intake.flows.submit(COMPLAINT)[0].ticket.id
        assert triage_ticket(ticket_id, deps) is TriageOutcome.ROUTED  # not merged into the ticket before
        assert retrieval.embedded == []
        assert stored_vector(intake, ticket_id)[1] is None


def history(intake: Intake, ticket_id: str) -> list[str]:
    """The ticket's events as the flows read them back, oldest first."""
    return [event.kind for event in intake.flows.get(ticket_id).ticket.events]


def test_a_triage_records_routed_once_after_received(intake: Intake) -> None:
    routing, retrieval = FakeRouting(), FakeRetrieval()
    ticket_id = intake.flows.submit(COMPLAINT)[0].ticket.id
    assert triage_ticket(ticket_id, deps_for(intake, routing, retrieval)) is TriageOutcome.ROUTED
    assert history(intake, ticket_id) == ["received", "routed"]
    ticket = intake.flows.get(ticket_id).ticket
    [routed] = [event for event in ticket.events if event.kind == "routed"]
    assert routed.to_party == "property_manager"
    assert ticket.updated_at == routed.at
    assert triage_ticket(ticket_id, deps_for(intake, routing, retrieval)) is TriageOutcome.ALREADY_TRIAGED
    assert history(intake, ticket_id) == ["received", "routed"]


def test_a_merged_duplicate_is_recorded_on_it_and_on_its_primary(intake: Intake) -> None:
    routing, retrieval = FakeRouting(), FakeRetrieval()
    primary = intake.flows.submit(COMPLAINT)[0].ticket.id
    assert triage_ticket(primary, deps_for(intake, routing, retrieval)) is TriageOutcome.ROUTED
    second = intake.flows.submit(Submission(**{**COMPLAINT.__dict__, "text": "楼道的灯不亮了"}))[0].ticket.id
    assert triage_ticket(second, deps_for(intake, routing, retrieval)) is TriageOutcome.MERGED
    assert history(intake, second) == ["received", "merged"]
    assert history(intake, primary) == ["received", "routed", "duplicate_linked"]
    [linked] = [event for event in intake.flows.get(primary).ticket.events if event.kind == "duplicate_linked"]
    assert second in linked.note
    view = intake.flows.get(primary)
    assert view.duplicate_ids == [second]


def test_triage_raises_while_routing_is_down(intake: Intake) -> None:
    ticket_id = intake.flows.submit(COMPLAINT)[0].ticket.id
    with pytest.raises(Unavailable):
        triage_ticket(ticket_id, deps_for(intake, FakeRouting(failure=Unavailable("routing: down")), FakeRetrieval()))
    assert intake.flows.get(ticket_id).ticket.status == TicketStatus.RECEIVED


def eager_app(intake: Intake, routing: FakeRouting, retrieval: FakeRetrieval) -> tuple[Celery, dict[str, Any]]:
    settings = IntakeSettings(broker_url="memory://", triage_max_retries=2, triage_retry_backoff_seconds=0.01)
    app = create_celery_app(settings)
    app.conf.task_always_eager = True  # retries run at once, in this thread
    deps = deps_for(intake, routing, retrieval)
    return app, register_tasks(app, lambda: deps, settings)


@pytest.mark.parametrize(
    ("failure", "calls"),
    [(Unavailable("routing: down"), 3), (InvalidArgument.for_field("complaint.text", "too long"), 1)],
    ids=["down", "rejected"],
)
def test_the_task_sends_to_the_manual_queue_after_the_retries(intake: Intake, failure: Exception, calls: int) -> None:
    routing = FakeRouting(failure=failure)
    _, tasks = eager_app(intake, routing, FakeRetrieval())
    ticket_id = intake.flows.submit(COMPLAINT)[0].ticket.id
    tasks[TRIAGE_TASK].apply(args=[ticket_id])
    assert routing.calls == calls
    ticket = intake.flows.get(ticket_id).ticket
    assert (ticket.status, ticket.events[-1].kind) == (TicketStatus.NEEDS_MANUAL, "needs_manual")
    assert "人工分派" in ticket.events[-1].note


def test_case_sync_upserts_then_deletes_and_retries_while_retrieval_is_down(intake: Intake) -> None:
    retrieval = FakeRetrieval()
    deps = deps_for(intake, FakeRouting(), retrieval)
    ticket_id = intake.flows.submit(COMPLAINT)[0].ticket.id
    triage_ticket(ticket_id, deps)
    intake.flows.accept(ticket_id, PROPERTY)
    intake.flows.resolve(ticket_id, PROPERTY, resolution="更换了灯泡")
    assert sync_case(ticket_id, deps) == "upsert"
    assert [case.resolution for case in retrieval.upserted] == ["更换了灯泡"]
    assert sync_case(ticket_id, deps) == "nothing_pending"
    intake.flows.rate(ticket_id, resident_id="r-1", score=1)
    retrieval.down = True
    with pytest.raises(Unavailable):
        sync_case(ticket_id, deps)
    retrieval.down = False
    assert sync_case(ticket_id, deps) == "delete"
    assert retrieval.deleted == [f"ticket-{ticket_id}"]


def test_the_sweeps_are_tasks_too(intake: Intake) -> None:
    _, tasks = eager_app(intake, FakeRouting(), FakeRetrieval())
    assert tasks[REQUEUE_TASK].apply().get() == {"triage": 0, "case_sync": 0}
    assert tasks[ESCALATE_TASK].apply().get() == 0
    assert tasks[AUTO_CLOSE_TASK].apply().get() == 0
    assert tasks[RETENTION_TASK].apply().get() == 0  # no retention period by default


def test_the_close_task_closes_a_resolved_ticket_nobody_rated(intake: Intake) -> None:
    _, tasks = eager_app(intake, FakeRouting(), FakeRetrieval())
    ticket_id = intake.flows.submit(COMPLAINT)[0].ticket.id
    intake.triage.record_triage(ticket_id, decision())
    intake.flows.accept(ticket_id, PROPERTY)
    intake.flows.resolve(ticket_id, PROPERTY, resolution="已更换灯泡")
    intake.clock.now += timedelta(days=7)  # the default follow-up period
    assert tasks[AUTO_CLOSE_TASK].apply().get() == 1
    assert intake.flows.get(ticket_id).ticket.status == TicketStatus.CLOSED


def test_the_app_is_configured_to_lose_nothing() -> None:
    settings = IntakeSettings(
        broker_url="redis://127.0.0.1:6379/0",
        triage_time_limit_seconds=30,
        broker_visibility_timeout_seconds=90,
        sweep_interval_seconds=15,
    )
    conf = create_celery_app(settings).conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_time_limit == 30
    assert conf.broker_transport_options["visibility_timeout"] == 90
    assert {entry["task"] for entry in conf.beat_schedule.values()} == {
        REQUEUE_TASK,
        ESCALATE_TASK,
        AUTO_CLOSE_TASK,
        RETENTION_TASK,
        PHOTO_SWEEP_TASK,
    }
    assert all(entry["schedule"] == 15 for entry in conf.beat_schedule.values())
    assert all(
        conf.task_routes[task] == {"queue": LIFECYCLE_QUEUE}
        for task in (CASE_SYNC_TASK, AUTO_CLOSE_TASK, PHOTO_SWEEP_TASK)
    )
    assert f"--queues=triage,{LIFECYCLE_QUEUE}" in worker_argv(settings)


@pytest.mark.parametrize(("level", "kept"), [("INFO", logging.WARNING), ("warning", logging.WARNING), ("DEBUG", 0)])
def test_celerys_per_task_lines_are_quiet_but_at_debug(level: str, kept: int) -> None:
    loggers = [logging.getLogger(name) for name in CELERY_TASK_LOGGERS]
    before = [logger.level for logger in loggers]
    try:
        for logger in loggers:
            logger.setLevel(logging.NOTSET)
        quiet_task_lines(level)
        assert [logger.level for logger in loggers] == [kept] * len(loggers)
    finally:
        for logger, old in zip(loggers, before, strict=True):
            logger.setLevel(old)


def test_the_tasks_belong_to_their_app_and_never_reach_a_later_one(intake: Intake) -> None:
    first, _ = eager_app(intake, FakeRouting(), FakeRetrieval())
    with warnings.catch_warnings():
        # What Celery says when a later app is handed a second callable under a name it already has.
        warnings.simplefilter("error", DuplicateTaskNameWarning)
        second, _ = eager_app(intake, FakeRouting(), FakeRetrieval())
        unrelated = Celery("unrelated", broker="memory://", set_as_current=False)
        unrelated.finalize()
        register_notification_tasks(second, settings=NotificationSettings())
        second.finalize()
    assert TRIAGE_TASK not in unrelated.tasks
    assert DELIVER_TASK not in unrelated.tasks
    assert first.tasks[TRIAGE_TASK].app is first
    assert second.tasks[TRIAGE_TASK].app is second


def test_the_visibility_timeout_must_outlast_a_task() -> None:
    with pytest.raises(ValueError, match="visibility"):
        IntakeSettings(triage_time_limit_seconds=60, broker_visibility_timeout_seconds=60)


def test_backoff_grows_with_jitter_and_stays_under_the_cap() -> None:
    delays = [backoff_seconds(retry, 2.0, cap=50.0) for retry in range(10) for _ in range(20)]
    assert all(0 <= delay <= 50.0 for delay in delays)
    assert max(backoff_seconds(0, 2.0) for _ in range(50)) <= 2.0
    assert len(set(delays)) > 100  # jittered, not a fixed schedule


def test_the_worker_reaches_the_photo_store_only_when_a_sweep_deletes_a_photo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[UploadSettings] = []

    def store(settings: UploadSettings, *, secrets: Sequence[bytes]) -> LocalObjectStore:
        made.append(settings)  # an S3 store is reached here: a down store must not stop the worker's triage
        return LocalObjectStore(settings.folder, LinkSigner(secrets))

    monkeypatch.setattr(worker_main, "create_object_store", store)
    settings = IntakeSettings(database_url=f"sqlite:///{tmp_path / 'tickets.sqlite'}", broker_url="memory://")
    config = replace(intake_config(settings), uploads=UploadSettings(folder=tmp_path / "uploads"))
    credentials = ServiceCredentials.from_settings("intake-worker", config.process.auth)
    deps = worker_main.WorkerDeps(config, create_celery_app(settings), credentials)
    sweeps = deps().sweeps
    assert made == []
    assert sweeps.forget_unattached_photos() == 0
    assert sweeps.forget_unattached_photos() == 0
    assert made == [config.uploads]  # made once, then kept
