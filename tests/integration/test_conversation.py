"""The conversation on a ticket over a real intake's HTTP API (uvicorn, SQLite and PostgreSQL): a worker asks the
resident which unit, the SLA clock stands still while the resident takes their time, the escalation sweep leaves the
waiting ticket alone, the answer resumes it with its deadline moved by the wait, and the internal note stays inside."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.intake.server import IntakeDeps
from services.intake.tickets.sweeps import SweepFlows
from services.intake.triage.flows import TriageFlows
from tests.integration.conftest import RunningIntake, intake_settings_for, running_intake
from tests.tokens import as_resident, as_worker
from tests.unit.intake.fakes import RecordingNotifier, RecordingTaskQueue, decision

pytestmark = pytest.mark.integration

PM = as_worker("w-pm", "property_manager", "恒康居民区")
OWNERS = as_worker("w-oc", "owners_committee", "恒康居民区")
RESIDENT = as_resident("resident-1")
NEIGHBOUR = as_resident("resident-2")
LIGHT = {"text": "楼道的灯坏了好几天了,晚上上下楼黑漆漆的", "community": "恒康居民区", "building": "3号楼"}


class SettableClock:
    """A clock the test moves; each read adds a millisecond so events keep their order."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(datetime(2026, 12, 7, 9, 0, tzinfo=UTC))


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier()


@pytest.fixture
def intake(database_url: str, clock: SettableClock, notifier: RecordingNotifier) -> Iterator[RunningIntake]:
    # Triage is recorded directly: this test is about the conversation, not routing (test_ticket_lifecycle.py).
    settings = intake_settings_for(database_url, "memory://", 1, 1)
    deps = IntakeDeps(queue=RecordingTaskQueue(), notifier=notifier, clock=clock)
    with running_intake(settings, deps) as running:
        yield running


def call(intake: RunningIntake, method: str, path: str, who: dict[str, str], **body: Any) -> dict[str, Any]:
    reply = intake.http.request(method, path, headers=who, json=body or None)
    assert reply.is_success, reply.text
    return dict(reply.json())


def test_a_question_pauses_the_sla_until_the_resident_answers(
    intake: RunningIntake, clock: SettableClock, notifier: RecordingNotifier
) -> None:
    ticket_id = call(intake, "POST", "/v1/tickets", RESIDENT, **LIGHT)["id"]
    TriageFlows(intake.server.context).record_triage(ticket_id, decision("property_manager", sla_hours=24))
    call(intake, "POST", f"/v1/tickets/{ticket_id}/accept", PM)
    due = datetime.fromisoformat(call(intake, "GET", f"/v1/tickets/{ticket_id}", PM)["sla_due_at"])
    messages = f"/v1/tickets/{ticket_id}/messages"

    asked = call(intake, "POST", messages, PM, text="请问是哪个单元的楼道?", asks_resident=True)
    assert asked["ticket"]["status"] == "waiting_resident"
    call(intake, "POST", messages, PM, text="这栋楼上月刚换过线路,注意排查", internal=True)
    assert [e.kind for e in notifier.events if e.ticket_id == ticket_id][-1] == "worker_message"
    assert notifier.events[-1].resident_openid == "resident-1"

    # The resident answers two days later, well past the 24-hour deadline: the sweep must not escalate meanwhile.
    clock.now = due + timedelta(hours=24)
    assert SweepFlows(intake.server.context).escalate_overdue() == 0
    thread = call(intake, "GET", messages, RESIDENT)["messages"]
    assert [m["text"] for m in thread] == ["请问是哪个单元的楼道?"]
    answered = call(intake, "POST", messages, RESIDENT, text="2 单元,三楼到五楼")
    ticket = answered["ticket"]
    waited = datetime.fromisoformat(answered["created_at"]) - datetime.fromisoformat(asked["created_at"])
    assert ticket["status"] == "accepted"
    assert datetime.fromisoformat(ticket["sla_due_at"]) == due + waited
    assert ticket["sla_paused_seconds"] == int(waited.total_seconds())
    assert ticket["events"][-1]["kind"] == "resident_answered"

    # The console's inbox marks the ticket until a worker opens its conversation.
    inbox = call(intake, "GET", "/v1/tickets?party=property_manager", PM)["tickets"]
    assert [t["unread_resident_messages"] for t in inbox] == [1]
    assert [m["internal"] for m in call(intake, "GET", messages, PM)["messages"]] == [False, True, False]
    assert call(intake, "GET", f"/v1/tickets/{ticket_id}", PM)["unread_resident_messages"] == 0

    for stranger in (NEIGHBOUR, OWNERS):
        assert intake.http.get(messages, headers=stranger).status_code == 404
        assert intake.http.post(messages, headers=stranger, json={"text": "路过看看"}).status_code == 404
