"""What the ticket database says happened: triage times, the backlog, and the audit of lost or duplicated tickets."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from bench.reliability.residents import Receipt
from services.intake.database import Database
from services.intake.tickets.models import Ticket, TicketEvent, TicketStatus

# The events that record a ticket's triage: exactly one of them per ticket.
DECISION_EVENTS = ("routed", "needs_manual", "merged")
# Events a ticket may collect more than once without anyone acting on it (one per neighbour's duplicate).
REPEATABLE_EVENTS = frozenset({"duplicate_linked"})


@dataclass(frozen=True)
class Triage:
    """When a ticket was stored, when its triage was recorded (None while waiting), and how it ended."""

    created_at: datetime
    decided_at: datetime | None
    outcome: str


def triage_times(database: Database, ids: Iterable[str]) -> dict[str, Triage]:
    """For each ticket of `ids`: its triage, from the servers' own clocks (created_at and the decision event)."""
    wanted = set(ids)
    times: dict[str, Triage] = {}
    with database.unit_of_work() as session:
        for ticket_id, created_at in session.execute(select(Ticket.id, Ticket.created_at)):
            if ticket_id in wanted:
                times[ticket_id] = Triage(created_at, None, TicketStatus.RECEIVED.value)
        decisions = select(TicketEvent.ticket_id, TicketEvent.at, TicketEvent.kind).where(
            TicketEvent.kind.in_(DECISION_EVENTS)
        )
        for ticket_id, at, kind in session.execute(decisions.order_by(TicketEvent.id)):
            if ticket_id in times and times[ticket_id].decided_at is None:
                times[ticket_id] = Triage(times[ticket_id].created_at, at, kind)
    return times


def backlog(database: Database) -> int:
    """Tickets still waiting for triage."""
    with database.unit_of_work() as session:
        waiting = select(func.count()).select_from(Ticket).where(Ticket.status == TicketStatus.RECEIVED.value)
        return int(session.scalar(waiting) or 0)


def still_received(database: Database, ids: Iterable[str]) -> set[str]:
    """Those of `ids` still waiting for triage: the status index's RECEIVED rows, nothing else read.

    What the wait polls every second while a burst runs, on the cores the stack is measured on: reading every ticket
    and decision event instead (as `triage_times` does, once, at the end) cost the client 10.8 CPU-ms a poll half way
    through 2,000 tickets on PostgreSQL, this 1.3.
    """
    with database.unit_of_work() as session:
        waiting = session.scalars(select(Ticket.id).where(Ticket.status == TicketStatus.RECEIVED.value))
        return set(waiting) & set(ids)


def wait_triaged(
    database: Database, ids: list[str], *, timeout: float, check: Callable[[], None], say: Callable[[str], None]
) -> bool:
    """Polls until every ticket of `ids` left RECEIVED (True) or `timeout` passed (False); `check` may raise."""
    deadline = time.monotonic() + timeout
    last_said = 0.0
    while time.monotonic() < deadline:
        check()
        waiting = len(still_received(database, ids))
        if waiting == 0:
            return True
        if time.monotonic() - last_said > 10:
            say(f"{waiting} of {len(ids)} tickets still waiting for triage")
            last_said = time.monotonic()
        time.sleep(1)
    return False


@dataclass
class Audit:
    """Every accepted submission checked against the database.

    lost: a 2xx whose ticket is not stored under its key; duplicated: two tickets for one key; untriaged: still
    RECEIVED; double_decisions: not exactly one decision event; double_transitions: a `received` or any other
    transition recorded twice; orphans: stored tickets whose submitter never saw a 2xx (not an error: the client
    gave up, the server kept it).
    """

    accepted: int = 0
    gave_up: int = 0
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    untriaged: list[str] = field(default_factory=list)
    double_decisions: list[str] = field(default_factory=list)
    double_transitions: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    decided_twice: list[str] = field(default_factory=list)  # more than one decision event (of double_decisions)

    @property
    def never_triaged(self) -> list[str]:
        """Accepted but never triaged: a 2xx whose ticket is not stored, or one still RECEIVED."""
        return self.lost + self.untriaged

    @property
    def triaged_twice(self) -> list[str]:
        """Accepted once but triaged more than once: two tickets for one key, or two decisions for one ticket."""
        return self.duplicated + self.decided_twice

    @property
    def clean(self) -> bool:
        """Nothing lost, duplicated, waiting, or decided twice."""
        return not (self.lost or self.duplicated or self.untriaged or self.double_decisions or self.double_transitions)

    def figures(self) -> dict[str, Any]:
        """The audit as counts (for the JSON line)."""
        return {
            "accepted": self.accepted,
            "gave_up": self.gave_up,
            "lost": len(self.lost),
            "duplicated": len(self.duplicated),
            "untriaged": len(self.untriaged),
            "double_decisions": len(self.double_decisions),
            "double_transitions": len(self.double_transitions),
            "orphans": len(self.orphans),
            "outcomes": dict(self.outcomes),
        }


def audit(database: Database, receipts: list[Receipt]) -> Audit:
    """Checks the receipts of one run against the ticket store (see `Audit`)."""
    keys = {receipt.key for receipt in receipts}
    with database.unit_of_work() as session:
        tickets = [row for row in session.execute(select(Ticket.id, Ticket.idempotency_key, Ticket.status))]
        events = list(session.execute(select(TicketEvent.ticket_id, TicketEvent.kind).order_by(TicketEvent.id)))
    by_key: dict[str, list[str]] = defaultdict(list)
    status: dict[str, str] = {}
    for ticket_id, key, ticket_status in tickets:
        if key in keys:
            by_key[key].append(ticket_id)
            status[ticket_id] = ticket_status
    history: dict[str, Counter[str]] = defaultdict(Counter)
    for ticket_id, kind in events:
        if ticket_id in status:
            history[ticket_id][kind] += 1
    result = Audit()
    for receipt in receipts:
        if not receipt.ticket_id:
            result.gave_up += 1
            result.orphans.extend(by_key.get(receipt.key, []))
            continue
        result.accepted += 1
        if receipt.ticket_id not in by_key.get(receipt.key, []):
            result.lost.append(receipt.key)
    result.duplicated = [key for key, ids in by_key.items() if len(ids) > 1]
    for ticket_id, ticket_status in status.items():
        result.outcomes[ticket_status] += 1
        kinds = history[ticket_id]
        if ticket_status == TicketStatus.RECEIVED.value:
            result.untriaged.append(ticket_id)
        elif (decisions := sum(kinds[kind] for kind in DECISION_EVENTS)) != 1:
            result.double_decisions.append(ticket_id)
            if decisions > 1:
                result.decided_twice.append(ticket_id)
        if any(count > 1 for kind, count in kinds.items() if kind not in REPEATABLE_EVENTS):
            result.double_transitions.append(ticket_id)
    return result
