"""Tickets with known timelines, made through the real flows on a clock that stands still until a test moves it,
and the figures those timelines must give, worked out by hand (not by the code under test)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient

from services.intake.auth import Worker
from services.intake.dashboards.flows import DashboardFlows
from services.intake.dashboards.models import StreetCommunities, no_known_streets
from services.intake.exports.flows import ExportFlows
from services.intake.exports.models import MAX_EXPORT_ROWS
from services.intake.http_app import create_http_app
from services.intake.tickets.validation import Submission
from tests.unit.fakes import StepClock
from tests.unit.intake.fakes import ELSEWHERE, OWNERS, PROPERTY, Intake, decision, face_services, http_security

HENGKANG = "恒康居民区"
MEILIN = "梅林小区"
# Monday 2026-01-05 10:00 in Shanghai: the week of 5 January, the month of January.
T0 = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=3)  # Thursday: every ticket below is in the same week
SLA_HOURS = 24


class StillClock(StepClock):
    """A clock that only moves when the test moves it: every time the flows record is exactly the one set."""

    def __call__(self) -> datetime:
        return self.now


ExportLog = list[tuple[str, str, int]]


def http_app(
    intake: Intake,
    streets: StreetCommunities = no_known_streets,
    *,
    max_rows: int = MAX_EXPORT_ROWS,
    exported: ExportLog | None = None,
) -> FastAPI:
    """The real HTTP app over `intake`, its dashboards on the intake's clock; exports are appended to `exported`."""
    ready = threading.Event()
    ready.set()
    log = exported if exported is not None else []
    dashboards = DashboardFlows(intake.database, streets, clock=intake.clock)
    exports = ExportFlows(intake.database, dashboards, max_rows=max_rows, on_export=lambda *entry: log.append(entry))
    return create_http_app(
        intake.flows,
        http_security(),
        intake.database,
        ready,
        faces=face_services(intake.flows, intake.database),
        dashboards=dashboards,
        exports=exports,
    )


def http_client(
    intake: Intake,
    streets: StreetCommunities = no_known_streets,
    *,
    max_rows: int = MAX_EXPORT_ROWS,
    exported: ExportLog | None = None,
) -> TestClient:
    """A test client of http_app."""
    return TestClient(http_app(intake, streets, max_rows=max_rows, exported=exported))


class Timeline:
    """Acts on tickets at given times after their receipt."""

    def __init__(self, intake: Intake) -> None:
        self.intake = intake
        self.flows = intake.flows

    def at(self, when: datetime) -> Timeline:
        self.intake.clock.now = when
        return self

    def routed(self, received: datetime, *, community: str = HENGKANG, text: str = "楼道灯坏了好几天了") -> str:
        """A ticket received at `received` and routed at once to the property manager with a 24 h deadline."""
        self.at(received)
        submission = Submission(text=text, community=community, resident_id="r-1", building="3号楼")
        ticket_id = self.flows.submit(submission)[0].ticket.id
        self.intake.triage.record_triage(ticket_id, decision("property_manager", sla_hours=SLA_HOURS))
        return ticket_id

    def accepted(self, ticket_id: str, after: timedelta, worker: Worker = PROPERTY) -> None:
        self.at(self._received(ticket_id) + after).flows.accept(ticket_id, worker)

    def resolved(self, ticket_id: str, after: timedelta, worker: Worker = PROPERTY) -> None:
        when = self._received(ticket_id) + after
        self.at(when).flows.resolve(ticket_id, worker, resolution="已修好")

    def rated(self, ticket_id: str, after: timedelta, score: int) -> None:
        self.at(self._received(ticket_id) + after).flows.rate(ticket_id, resident_id="r-1", score=score)

    def reopened(self, ticket_id: str, after: timedelta) -> None:
        self.at(self._received(ticket_id) + after).flows.reopen(ticket_id, resident_id="r-1", reason="灯又坏了")

    def transferred(self, ticket_id: str, after: timedelta, by: Worker = PROPERTY, to: Worker = OWNERS) -> None:
        when = self._received(ticket_id) + after
        self.at(when).flows.transfer(ticket_id, by, to_party=to.party, reason="不属于我们的职责")

    def _received(self, ticket_id: str) -> datetime:
        return self.flows.get(ticket_id).ticket.created_at


HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)


def known_week(intake: Intake) -> dict[str, str]:
    """Seven tickets of 恒康 and one of 梅林 in the week of 5 January, as the docstring of EXPECTED tells."""
    line = Timeline(intake)
    tickets = {name: line.routed(T0) for name in "ABCDEH"}
    tickets["F"] = line.routed(NOW - HOUR)
    tickets["G"] = line.routed(T0, community=MEILIN)
    a, b, c, d, h = (tickets[name] for name in "ABCDH")
    line.accepted(a, 30 * MINUTE)
    line.resolved(a, 10 * HOUR)
    line.rated(a, 11 * HOUR, 5)
    line.accepted(b, 3 * HOUR)
    line.resolved(b, 30 * HOUR)
    line.rated(b, 31 * HOUR, 3)
    line.accepted(c, HOUR)
    line.resolved(c, 5 * HOUR)
    line.rated(c, 6 * HOUR, 1)  # not solved: reopened (and escalated)
    line.transferred(d, 20 * MINUTE)
    line.accepted(d, 90 * MINUTE, OWNERS)
    line.accepted(h, 10 * MINUTE)
    line.resolved(h, 2 * HOUR)
    line.reopened(h, 3 * HOUR)
    line.accepted(h, 4 * HOUR)
    line.resolved(h, 6 * HOUR)
    line.accepted(tickets["G"], 5 * HOUR, ELSEWHERE)
    line.at(NOW)
    return tickets


# 恒康's week, by hand. A: accepted 30 min, resolved 10 h (due 24 h), rated 5. B: accepted 3 h (late), resolved 30 h
# (late), rated 3. C: accepted 1 h, resolved 5 h, rated 1 -> reopened. D: transferred at 20 min, accepted by the
# owners' committee at 90 min. E: routed, never accepted, its 2 h long over. F: received an hour before now (its
# window still runs). H: accepted 10 min, resolved 2 h, reopened by the resident at 3 h, accepted again, resolved
# at 6 h (its fresh deadline 24 h after the reopening).
EXPECTED_HENGKANG: dict[str, object] = {
    "received": 7,  # A B C D E F H
    "response": (4, 6),  # in 2 h: A C D H; needed: A B C D H (accepted) + E (window over); F's window runs
    "resolution": (3, 7),  # A B closed, H resolved; C reopened
    "satisfaction": (1, 3),  # rated 5, 3, 1
    "on_time": (2, 3),  # A and H in time, B late
    "reopen": (2, 4),  # C and H, of A B C H ever resolved
    "transfer": (1, 7),  # D
    # accept: A 1800, B 10800, C 3600, D 5400, H 600 -> 3600; resolve of A B H: 36000, 108000, 21600 -> 36000
    "median_accept_seconds": 3600.0,
    "median_resolve_seconds": 36000.0,
}
