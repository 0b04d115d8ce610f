"""What every ticket flow shares: the unit of work with after-commit actions, events, notices, SLA and escalation."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from sqlalchemy.orm import Session, object_session

from linli.errors import InvalidArgument
from linli.parties import DEFAULT_PARTIES
from services.intake.database import Database
from services.intake.notifications.events import OutboundEvent
from services.intake.settings import DEFAULT_COMMUNITIES, IntakeSettings
from services.intake.tickets.models import EscalationLevel, Ticket, TicketEvent, Urgency, is_erased_resident

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]
SYSTEM = "system"
# A normal complaint that five neighbours report weighs as much as one urgent complaint.
URGENCY_WEIGHT = {Urgency.NORMAL: 1, Urgency.URGENT: 5, Urgency.EMERGENCY: 10}
LEVEL_NAMES = {EscalationLevel.BUILDING: "楼组", EscalationLevel.COMMUNITY: "社区", EscalationLevel.STREET: "街道"}


def utc_now() -> datetime:
    """The real clock."""
    return datetime.now(UTC)


class EventKind(StrEnum):
    """What can happen to a ticket, as its history records it."""

    RECEIVED = "received"
    ROUTED = "routed"
    NEEDS_MANUAL = "needs_manual"
    MERGED = "merged"
    DUPLICATE_LINKED = "duplicate_linked"
    UNMERGED = "unmerged"
    DUPLICATE_UNLINKED = "duplicate_unlinked"
    DISPATCHED = "dispatched"
    ACCEPTED = "accepted"
    STARTED = "started"
    TRANSFERRED = "transferred"
    RESOLVED = "resolved"
    RATED = "rated"
    REOPENED = "reopened"
    ESCALATED = "escalated"
    AT_TOP_LEVEL = "at_top_level"
    AUTO_CLOSED = "auto_closed"
    SPLIT = "split"  # on the ticket a further problem was split off from
    SPLIT_OFF = "split_off"  # on the new ticket that problem became
    PERSONAL_DATA_ERASED = "personal_data_erased"  # the resident's data erased on request or past retention
    ASKED_RESIDENT = "asked_resident"  # a worker's question: the ticket waits, its SLA clock stopped
    RESIDENT_ANSWERED = "resident_answered"  # the resident's answer: the ticket resumes, its deadline moved on
    ASSIGNED = "assigned"  # a worker gave the ticket to a colleague of its party (or took it back: nobody's)


class TaskQueue(Protocol):
    """Where background work waits: triage of stored tickets, and syncing resolved cases to retrieval."""

    def enqueue_triage(self, ticket_id: str) -> None:
        """Queues the triage of one ticket; may raise if the broker is down."""
        ...

    def enqueue_case_sync(self, ticket_id: str) -> None:
        """Queues teaching (or un-teaching) retrieval one ticket's case; may raise if the broker is down."""
        ...


class Attachments(Protocol):
    """Gives a ticket photos uploaded beforehand (services/intake/uploads implements it)."""

    def attach(self, upload_ids: Sequence[str], ticket: Ticket, *, owner: str, kind: str, session: Session) -> None:
        """Attaches `owner`'s uploads to the ticket inside the caller's unit of work; raises when it may not."""
        ...


class NoAttachments:
    """For processes without a photo store: a ticket naming uploads is refused."""

    def attach(self, upload_ids: Sequence[str], ticket: Ticket, *, owner: str, kind: str, session: Session) -> None:
        """Refuses any upload id."""
        if upload_ids:
            raise InvalidArgument.for_field("attachment_ids", "照片上传未开启")


class Notifier(Protocol):
    """Tells the outside world about committed changes (services/intake/notifications implements it)."""

    def publish(self, event: OutboundEvent) -> None:
        """Queues delivery of `event`; never raises."""
        ...


class SilentNotifier:
    """A notifier that tells nobody: for processes without notification settings, and tests."""

    def publish(self, event: OutboundEvent) -> None:
        """Drops the event."""
        logger.debug("notification not configured", extra={"kind": event.kind, "ticket_id": event.ticket_id})


@dataclass(frozen=True)
class LifecyclePolicy:
    """The knobs of the lifecycle, from IntakeSettings."""

    known_communities: frozenset[str] = frozenset(DEFAULT_COMMUNITIES)
    # Who may hold a ticket: a ticket handed to any other name would be in nobody's queue.
    parties: frozenset[str] = frozenset(DEFAULT_PARTIES)
    default_sla_hours: int = 72
    escalation_sla_factor: float = 1.0
    duplicate_threshold: float = 0.86
    duplicate_window: timedelta = timedelta(hours=72)
    # 0: where the tickets' points are does not matter.
    duplicate_max_distance_meters: float = 200.0
    stuck_after: timedelta = timedelta(minutes=5)
    sweep_batch: int = 500
    # None: resolved tickets wait for the resident's rating forever.
    auto_close_after: timedelta | None = timedelta(days=7)
    # None: closed tickets keep their resident's data until the resident asks to erase it.
    personal_data_retention: timedelta | None = None

    @classmethod
    def from_settings(cls, settings: IntakeSettings) -> LifecyclePolicy:
        """The policy the settings describe."""
        return cls(
            known_communities=frozenset(settings.known_communities),
            parties=frozenset(settings.parties),
            default_sla_hours=settings.default_sla_hours,
            escalation_sla_factor=settings.escalation_sla_factor,
            duplicate_threshold=settings.duplicate_threshold,
            duplicate_window=timedelta(hours=settings.duplicate_window_hours),
            duplicate_max_distance_meters=settings.duplicate_max_distance_meters,
            stuck_after=timedelta(seconds=settings.stuck_after_seconds),
            auto_close_after=timedelta(days=settings.auto_close_days) if settings.auto_close_days else None,
            personal_data_retention=(
                timedelta(days=settings.personal_data_retention_days) if settings.personal_data_retention_days else None
            ),
        )


def priority_of(urgency: str, reporters: int) -> int:
    """Urgency's weight plus one for every neighbour who reported the same problem."""
    return URGENCY_WEIGHT[Urgency(urgency)] + max(reporters, 1) - 1


def duplicate_notice(reporters: int) -> str:
    """What the residents of a shared problem read; empty while one resident reported it."""
    return f"{reporters - 1} 位邻居也反映了这个问题" if reporters > 1 else ""


@dataclass
class Work:
    """One open transaction and what to do once it committed (publish tasks and notices)."""

    session: Session
    _after_commit: list[Callable[[], None]] = field(default_factory=list)

    def after_commit(self, action: Callable[[], None]) -> None:
        """Runs `action` after the commit; never if the transaction rolls back."""
        self._after_commit.append(action)

    def run_after_commit(self) -> None:
        for action in self._after_commit:
            try:
                action()
            except Exception:
                # The change is committed; the sweeps re-queue what a dead broker missed.
                logger.exception("an after-commit action failed")


@dataclass
class FlowContext:
    """The database, queue, clock, policy and notifier a flow works with."""

    database: Database
    queue: TaskQueue
    clock: Clock = utc_now
    policy: LifecyclePolicy = field(default_factory=LifecyclePolicy)
    notifier: Notifier = field(default_factory=SilentNotifier)
    # The communities new tickets may name, as the organisation tables hold them now (services/intake/organisation);
    # None: the policy's, from LINLI_INTAKE_KNOWN_COMMUNITIES (processes and tests without those tables).
    communities: Callable[[], frozenset[str]] | None = None

    def known_communities(self) -> frozenset[str]:
        """The communities a new ticket may name."""
        return self.communities() if self.communities is not None else self.policy.known_communities

    @contextmanager
    def transaction(self) -> Iterator[Work]:
        """The unit of work: commits when the block ends (then runs the after-commit actions) or rolls back."""
        with self.database.unit_of_work() as session:
            work = Work(session)
            yield work
        work.run_after_commit()

    def record(
        self,
        ticket: Ticket,
        kind: EventKind,
        actor: str,
        *,
        note: str = "",
        from_party: str = "",
        to_party: str = "",
        party: str = "",
    ) -> TicketEvent:
        """Appends an event to the ticket's history and bumps its update time."""
        event = TicketEvent(
            kind=kind.value,
            actor=actor,
            note=note,
            from_party=from_party,
            to_party=to_party,
            party=party,
            at=self.clock(),
        )
        # Through the event's side of the relationship: a history already read gets it appended, one not read is
        # not read for it (a triage never shows the history it adds to).
        event.ticket = ticket
        session = object_session(ticket)
        if session is not None:
            session.add(event)
        ticket.updated_at = event.at
        return event

    def notify(self, work: Work, kind: str, ticket: Ticket, **payload: object) -> None:
        """Publishes an outbound event once the transaction committed."""
        event = OutboundEvent(
            kind=kind,
            ticket_id=ticket.id,
            party=ticket.party,
            community=ticket.community,
            status=ticket.status,
            occurred_at=ticket.updated_at,
            payload={
                "escalation_level": ticket.escalation_level,
                "priority": ticket.priority,
                "sla_due_at": ticket.sla_due_at.isoformat() if ticket.sla_due_at else None,
                **payload,
            },
            # The mini-program sends the resident's openid as resident_id; the notifier decides what to send.
            # An erased resident's tickets are still handled, but nobody is left to message.
            resident_openid=None if is_erased_resident(ticket.resident_id) else ticket.resident_id or None,
        )
        work.after_commit(lambda: self.notifier.publish(event))

    def level_hours(self, ticket: Ticket) -> float:
        """Hours a level has to handle the ticket: its SLA, stretched by the factor above the starting level."""
        hours = ticket.sla_hours or self.policy.default_sla_hours
        return hours * self.policy.escalation_sla_factor

    def escalate(self, work: Work, ticket: Ticket, *, reason: str, actor: str = SYSTEM) -> bool:
        """Moves the ticket one rung up the ladder with a fresh deadline; False (and a record) at the top."""
        level = EscalationLevel(ticket.escalation_level)
        above = level.next_up()
        if above is None:
            self.record(ticket, EventKind.AT_TOP_LEVEL, actor, note=f"{reason};已在街道层级,请街道督办")
            self.notify(work, "escalated", ticket, reason=reason, from_level=level.value, to_level=level.value)
            return False
        now = self.clock()
        ticket.escalation_level = above.value
        ticket.sla_due_at = now + timedelta(hours=self.level_hours(ticket))
        note = f"{reason};已由{LEVEL_NAMES[level]}升级至{LEVEL_NAMES[above]}"
        self.record(ticket, EventKind.ESCALATED, actor, note=note)
        self.notify(work, "escalated", ticket, reason=reason, from_level=level.value, to_level=above.value)
        return True
