"""The whole ticket lifecycle on PostgreSQL, Redis, a real Celery worker, routing and retrieval (real m3e model).

submit (idempotent) → routed → accept → transfer (a correction) → resolve → case found by retrieval search → rate
"not solved" (reopened, escalated, case forgotten) → resolve again → rate → reopen; duplicates linked by meaning,
merged and unmerged; escalation by Celery beat and with a controlled clock; a crash between commit and publish.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest

from linli.grpc_serving import ServerHandle
from linli.v1 import cases_pb2, retrieval_pb2, retrieval_pb2_grpc
from services.cli.main import main as linli
from services.intake.server import IntakeDeps
from services.intake.settings import IntakeSettings
from services.intake.tickets.context import FlowContext
from services.intake.tickets.sweeps import SweepFlows
from tests.integration.conftest import ChildProcesses, RunningIntake, running_intake, wait_until
from tests.tokens import as_resident, as_service, as_worker
from tests.unit.intake.fakes import RecordingNotifier, RecordingTaskQueue

pytestmark = pytest.mark.integration

SECONDS = 60.0
PM = as_worker("w-pm", "property_manager", "恒康居民区")
SO = as_worker("w-so", "street_office")
DISPATCH = as_worker("d-1", "street_office", "恒康居民区", "dispatcher")
RESIDENT = as_resident("resident-1")
LIGHT = {
    "text": "3号楼2单元楼道的灯坏了好几天了,晚上上下楼黑漆漆的,老人容易摔跤,麻烦尽快来修一下",
    "community": "恒康居民区",
    "building": "3号楼",
    "resident_id": "resident-1",
}
LEVELS = ["building", "community", "street"]


class SettableClock:
    """A clock the test sets; each read moves it a millisecond so events keep their order."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


def ticket(intake: RunningIntake, ticket_id: str, who: dict[str, str] = RESIDENT) -> dict[str, Any]:
    reply = intake.http.get(f"/v1/tickets/{ticket_id}", headers=who)
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


def wait_for(intake: RunningIntake, ticket_id: str, *statuses: str, who: dict[str, str] = RESIDENT) -> dict[str, Any]:
    """Polls (as `who`, the resident-1 by default) until the ticket has one of `statuses`; returns it."""
    latest: dict[str, Any] = {}

    def reached() -> bool:
        nonlocal latest
        latest = ticket(intake, ticket_id, who)
        return latest["status"] in statuses

    wait_until(reached, seconds=SECONDS, what=f"ticket {ticket_id} to become {' or '.join(statuses)}")
    return latest


def post(
    intake: RunningIntake, path: str, body: dict[str, Any] | None = None, headers: dict[str, str] = RESIDENT
) -> dict[str, Any]:
    """POSTs as `headers` (the resident-1's token by default); returns the JSON answer of a 200 or 201."""
    reply = intake.http.post(path, json=body, headers=headers)
    assert reply.status_code in (200, 201), reply.text
    return dict(reply.json())


def case_ids_found(retrieval: ServerHandle, text: str) -> list[str]:
    """Ids of the resolved cases retrieval finds for `text` in 恒康居民区."""
    with as_service(grpc.insecure_channel(f"127.0.0.1:{retrieval.port}")) as channel:
        reply = retrieval_pb2_grpc.RetrievalServiceStub(channel).SearchCases(
            retrieval_pb2.SearchCasesRequest(
                text=text, k=5, filter=cases_pb2.CaseFilter(community="恒康居民区", resolved_only=True)
            ),
            timeout=10,
        )
    return [hit.case.id for hit in reply.results]


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier()


@pytest.fixture
def lifecycle_intake(postgres_intake_settings: IntakeSettings, notifier: RecordingNotifier) -> Iterator[RunningIntake]:
    with running_intake(postgres_intake_settings, IntakeDeps(notifier=notifier)) as running:
        yield running


def test_the_whole_lifecycle(
    lifecycle_intake: RunningIntake,
    children: ChildProcesses,
    retrieval_server: ServerHandle,
    notifier: RecordingNotifier,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    intake = lifecycle_intake
    children.start("worker", intake.settings)
    first = intake.http.post("/v1/tickets", json=LIGHT, headers={**RESIDENT, "Idempotency-Key": "light-1"})
    again = intake.http.post("/v1/tickets", json=LIGHT, headers={**RESIDENT, "Idempotency-Key": "light-1"})
    assert (first.status_code, again.status_code) == (201, 200)
    ticket_id = first.json()["id"]
    assert again.json()["id"] == ticket_id

    routed = wait_for(intake, ticket_id, "routed", "needs_manual")
    assert (routed["status"], routed["party"]) == ("routed", "property_manager"), routed["routing"]
    assert routed["sla_due_at"]
    assert routed["priority"] >= 1
    assert routed["escalation_level"] in LEVELS
    start_level = LEVELS.index(routed["escalation_level"])

    assert intake.http.post(f"/v1/tickets/{ticket_id}/accept").status_code == 401
    assert intake.http.post(f"/v1/tickets/{ticket_id}/accept", headers=SO).status_code == 404
    post(intake, f"/v1/tickets/{ticket_id}/accept", headers=PM)
    moved = post(
        intake,
        f"/v1/tickets/{ticket_id}/transfer",
        {"to_party": "street_office", "reason": "楼道照明线路属于老旧小区改造工程,归街道协调"},
        headers=PM,
    )
    assert (moved["status"], moved["party"]) == ("transferred", "street_office")
    post(intake, f"/v1/tickets/{ticket_id}/accept", headers=SO)
    resolution = "街道协调施工队重新敷设了3号楼2单元的楼道照明线路,所有楼层的灯都已恢复"
    resolved = post(intake, f"/v1/tickets/{ticket_id}/resolve", {"resolution": resolution}, headers=SO)
    assert resolved["status"] == "resolved"

    case_id = f"ticket-{ticket_id}"
    wait_until(
        lambda: case_id in case_ids_found(retrieval_server, LIGHT["text"]),
        seconds=SECONDS,
        what="retrieval to learn the resolved case",
    )

    not_solved = post(intake, f"/v1/tickets/{ticket_id}/rate", {"resident_id": "resident-1", "score": 2})
    assert not_solved["status"] == "reopened"
    assert LEVELS.index(not_solved["escalation_level"]) == min(start_level + 1, 2)
    wait_until(
        lambda: case_id not in case_ids_found(retrieval_server, LIGHT["text"]),
        seconds=SECONDS,
        what="retrieval to forget the resolution that did not hold",
    )

    post(intake, f"/v1/tickets/{ticket_id}/accept", headers=SO)
    post(intake, f"/v1/tickets/{ticket_id}/resolve", {"resolution": resolution + ",并更换了老化的开关"}, headers=SO)
    closed = post(intake, f"/v1/tickets/{ticket_id}/rate", {"resident_id": "resident-1", "score": 5})
    assert closed["status"] == "closed"
    reopened = post(intake, f"/v1/tickets/{ticket_id}/reopen", {"resident_id": "resident-1", "reason": "又不亮了"})
    assert reopened["status"] == "reopened"

    kinds = [event["kind"] for event in reopened["events"]]
    assert kinds[:3] == ["received", "routed", "accepted"]
    assert (kinds.count("resolved"), kinds.count("reopened")) == (2, 2)
    assert "escalated" in kinds
    actors = {(e["kind"], e["actor"], e["party"]) for e in reopened["events"]}
    assert ("transferred", "worker:w-pm", "property_manager") in actors
    assert ("resolved", "worker:w-so", "street_office") in actors
    published = notifier.kinds(ticket_id)
    assert published[:3] == ["accepted", "transferred", "accepted"]
    assert {"resolved", "reopened", "escalated"} <= set(published)

    monkeypatch.setenv("LINLI_INTAKE_DATABASE_URL", intake.settings.database_url)
    out = tmp_path / "corrections.jsonl"
    assert linli(["corrections", "export", "--out", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(row["from"], row["to"]) for row in rows] == [("property_manager", "street_office")]
    assert linli(["report", "transfers"]) == 0
    report = capsys.readouterr().out
    assert any(line.split()[:4] == ["property_manager", "1", "1", "100.0%"] for line in report.splitlines())


def test_duplicates_are_linked_counted_and_merged_by_workers(
    lifecycle_intake: RunningIntake, children: ChildProcesses
) -> None:
    intake = lifecycle_intake
    children.start("worker", intake.settings)
    primary_id = post(intake, "/v1/tickets", LIGHT)["id"]
    primary = wait_for(intake, primary_id, "routed", "needs_manual")
    neighbour = {**LIGHT, "text": "3号楼2单元的楼道灯不亮了,晚上走楼梯什么都看不见", "resident_id": "resident-2"}
    other_problem = {**LIGHT, "text": "小区东门口有人摆摊卖菜,把人行道全占了", "resident_id": "resident-3"}
    neighbour_token, other_token = as_resident("resident-2"), as_resident("resident-3")
    duplicate_id = post(intake, "/v1/tickets", neighbour, headers=neighbour_token)["id"]
    separate_id = post(intake, "/v1/tickets", other_problem, headers=other_token)["id"]

    duplicate = wait_for(intake, duplicate_id, "merged", "routed", "needs_manual", who=neighbour_token)
    assert (duplicate["status"], duplicate["primary_ticket_id"]) == ("merged", primary_id), duplicate["events"]
    assert duplicate["duplicate_notice"] == "1 位邻居也反映了这个问题"
    assert duplicate["primary_status"] == primary["status"]
    assert wait_for(intake, separate_id, "routed", "needs_manual", who=other_token)["primary_ticket_id"] == ""
    linked = ticket(intake, primary_id)
    assert (linked["reporter_count"], linked["duplicate_ticket_ids"]) == (2, [duplicate_id])
    assert linked["priority"] == primary["priority"] + 1

    # The community's dispatcher may merge and unmerge whichever party holds the primary.
    unmerged = post(intake, f"/v1/tickets/{duplicate_id}/unmerge", {"reason": "核实后是另一处灯"}, headers=DISPATCH)
    # Back to its own decision: routed to its party, or to a person when the router had abstained on it.
    own = "needs_manual" if duplicate["routing"]["abstained"] else "routed"
    assert (unmerged["status"], unmerged["primary_ticket_id"]) == (own, "")
    assert ticket(intake, primary_id)["reporter_count"] == 1
    merged = post(intake, f"/v1/tickets/{duplicate_id}/merge", {"primary_ticket_id": primary_id}, headers=DISPATCH)
    assert (merged["ticket"]["status"], merged["primary"]["reporter_count"]) == ("merged", 2)

    post(intake, f"/v1/tickets/{primary_id}/accept", headers=PM)
    post(intake, f"/v1/tickets/{primary_id}/resolve", {"resolution": "物业电工更换了楼道灯泡和声控开关"}, headers=PM)
    follower = ticket(intake, duplicate_id, neighbour_token)
    assert (follower["status"], follower["resolution"]) == ("resolved", "物业电工更换了楼道灯泡和声控开关")


def test_beat_requeues_what_was_never_queued_and_escalates_overdue_tickets(
    postgres_intake_settings: IntakeSettings, children: ChildProcesses, tmp_path: Path
) -> None:
    settings = postgres_intake_settings.model_copy(
        update={"sweep_interval_seconds": 1.0, "stuck_after_seconds": 2.0, "beat_schedule_file": tmp_path / "beat"}
    )
    # Submitted four days ago (the clock is the test's), with a broker that refuses the publish: only the
    # re-queue sweep can get this ticket triaged, and its 72 h deadline is already past when it is.
    clock = SettableClock(datetime.now(UTC) - timedelta(days=4))
    dead_broker = RecordingTaskQueue(broken=True)
    deps = IntakeDeps(queue=dead_broker, notifier=RecordingNotifier(), clock=clock)
    with running_intake(settings, deps) as intake:
        ticket_id = post(intake, "/v1/tickets", LIGHT)["id"]
        children.start("worker", settings)
        children.start("beat", settings)
        routed = wait_for(intake, ticket_id, "routed", "needs_manual")
        start = routed["events"][1]
        assert start["kind"] in ("routed", "needs_manual")

        def escalated() -> bool:
            return "escalated" in [event["kind"] for event in ticket(intake, ticket_id)["events"]]

        wait_until(escalated, seconds=SECONDS, what="beat to escalate the overdue ticket")
        children.stop_all()  # from here on, only the test's clock moves
        level = ticket(intake, ticket_id)["escalation_level"]
        sweeps = SweepFlows(FlowContext(intake.server.database, dead_broker, clock))
        clock.now = datetime.now(UTC) + timedelta(hours=24 * 3 + 1)
        while level != "street":
            assert sweeps.escalate_overdue() == 1
            level = ticket(intake, ticket_id)["escalation_level"]
            clock.now += timedelta(hours=24 * 3 + 1)
        assert sweeps.escalate_overdue() == 0  # at the top: the street office is told once
        events = ticket(intake, ticket_id)["events"]
        assert events[-1]["kind"] == "at_top_level"
        assert ticket(intake, ticket_id)["sla_due_at"] is None
