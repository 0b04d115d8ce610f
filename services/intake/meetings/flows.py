"""What workers do with a matter for the residents' meeting: propose it from a hot topic, schedule, decide, drop.

The path is the local practice: residents raise it (a hot topic, 找病灶) → a worker of the street office or the owners'
committee, or the community's dispatcher, proposes it → the meeting of 居委会, 业委会, 物业 and residents is scheduled
(议事协商) → it decides (定规约, e.g. a 居民公约 clause) or the matter is dropped with a reason. Decided items are
public (全透明). Each flow is one unit of work.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from linli.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied, shown_id
from services.intake.auth import Worker
from services.intake.database import Database
from services.intake.meetings import repository
from services.intake.meetings.models import OPEN_MEETING_STATUSES, MeetingItem, MeetingStatus
from services.intake.tickets.validation import CommunityNames, check_community, check_name, check_text, community_names
from services.intake.topics.flows import TopicReport

# The parties who convene the residents' meeting: the 居委会 (street office's community arm) and the 业委会.
CONVENING_PARTIES = frozenset({"street_office", "owners_committee"})
SCHEDULABLE = {MeetingStatus.PROPOSED, MeetingStatus.SCHEDULED}  # scheduling again moves the meeting
DECIDABLE = {MeetingStatus.SCHEDULED}  # a decision needs a meeting
DROPPABLE = set(OPEN_MEETING_STATUSES)
_ITEM_ID = re.compile(r"[0-9a-f]{32}")
NOT_CONVENING = "the residents' meeting is convened by the street office, the owners' committee or the dispatcher"


class TopicReports(Protocol):
    """Where the evidence comes from: TopicFlows."""

    def report(self, community: str, week: str = "") -> TopicReport:
        """A community's hot topics in an ISO week (empty: the current week)."""
        ...


class MeetingFlows:
    """The meeting-item use cases behind the HTTP API."""

    def __init__(
        self,
        database: Database,
        topics: TopicReports,
        known_communities: Collection[str] | CommunityNames,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._database = database
        self._topics = topics
        self._communities = community_names(known_communities)  # the table in service: asked at each use
        self._clock = clock

    def propose(self, community: str, topic_key: str, title: str, week: str, worker: Worker) -> MeetingItem:
        """Puts a topic residents raised in `week` (empty: this week) to the meeting, with their counts as evidence.

        InvalidArgument when no report raised the topic that week; AlreadyExists while an earlier item of the topic
        is still open.
        """
        self._check_community(community)
        community, topic_key, title = community.strip(), topic_key.strip(), title.strip()
        if violations := check_name(title, "title", required=True) + check_name(topic_key, "topic_key", required=True):
            raise InvalidArgument.for_fields(violations)
        self._authorize(worker, community)
        report = self._topics.report(community, week)
        topic = next((t for t in report.topics if t.key == topic_key), None)
        if topic is None:
            raise InvalidArgument.for_field("topic_key", f"no resident raised {topic_key!r} in {report.week}")
        now = self._clock()
        item = MeetingItem(
            community=community,
            topic_key=topic_key,
            title=title,
            status=MeetingStatus.PROPOSED.value,
            week=str(report.week),
            residents=topic.residents,
            reports=topic.count,
            proposed_by=worker.actor,
            proposed_at=now,
            updated_by=worker.actor,
            updated_at=now,
        )
        try:
            with self._database.unit_of_work() as session:
                if repository.open_item(community, topic_key, session=session) is not None:
                    raise AlreadyExists(f"{topic_key!r} is already before the meeting of {community}")
                session.add(item)
        except IntegrityError as error:  # a concurrent proposal of the same topic won the insert
            raise AlreadyExists(f"{topic_key!r} is already before the meeting of {community}") from error
        return item

    def schedule(self, item_id: str, meeting_at: datetime, worker: Worker) -> MeetingItem:
        """Sets (or moves) the meeting's time; it must say its time zone."""
        if meeting_at.tzinfo is None or meeting_at.utcoffset() is None:
            raise InvalidArgument.for_field("meeting_at", "must include a time zone, e.g. 2026-12-10T19:00:00+08:00")
        try:
            meeting_at = meeting_at.astimezone(UTC)
        except OverflowError as error:  # e.g. 0001-01-01T00:00+08:00, before the first UTC instant
            raise InvalidArgument.for_field("meeting_at", "is out of range") from error
        with self._database.unit_of_work() as session:
            item = self._editable(session, item_id, worker, SCHEDULABLE, "scheduled")
            item.status, item.meeting_at = MeetingStatus.SCHEDULED.value, meeting_at
            self._touch(item, worker)
            return item

    def decide(self, item_id: str, outcome: str, worker: Worker) -> MeetingItem:
        """Records what the meeting decided; the item becomes public."""
        if violations := check_text(outcome, "outcome"):
            raise InvalidArgument.for_fields(violations)
        with self._database.unit_of_work() as session:
            item = self._editable(session, item_id, worker, DECIDABLE, "decided")
            item.status, item.outcome = MeetingStatus.DECIDED.value, outcome.strip()
            item.decided_at = self._touch(item, worker)
            return item

    def drop(self, item_id: str, reason: str, worker: Worker) -> MeetingItem:
        """Takes an open item off the meeting's agenda, saying why; the topic may be proposed again."""
        if violations := check_text(reason, "reason"):
            raise InvalidArgument.for_fields(violations)
        with self._database.unit_of_work() as session:
            item = self._editable(session, item_id, worker, DROPPABLE, "dropped")
            item.status, item.reason = MeetingStatus.DROPPED.value, reason.strip()
            self._touch(item, worker)
            return item

    def list(self, community: str, statuses: Iterable[MeetingStatus] = ()) -> list[MeetingItem]:
        """The community's items (of `statuses`; none given: all), newest proposal first."""
        self._check_community(community)
        wanted = {status.value for status in statuses}
        with self._database.unit_of_work() as session:
            return repository.items_of(community.strip(), wanted, session=session)

    def _editable(
        self, session: Session, item_id: str, worker: Worker, allowed: set[MeetingStatus], verb: str
    ) -> MeetingItem:
        # Ids are uuid hex: anything else is no item (and never reaches the database, NUL bytes and all).
        item = repository.item_for_update(item_id, session=session) if _ITEM_ID.fullmatch(item_id) else None
        if item is None:
            raise NotFound(f"no meeting item {shown_id(item_id)}")
        self._authorize(worker, item.community)
        if MeetingStatus(item.status) not in allowed:
            raise FailedPrecondition(f"a {item.status} meeting item cannot be {verb}")
        return item

    def _touch(self, item: MeetingItem, worker: Worker) -> datetime:
        item.updated_by, item.updated_at = worker.actor, self._clock()
        return item.updated_at

    def _check_community(self, community: str) -> None:
        if violations := check_community(community, self._communities()):
            raise InvalidArgument.for_fields(violations)

    @staticmethod
    def _authorize(worker: Worker, community: str) -> None:
        if not worker.serves(community):
            raise PermissionDenied(f"worker {worker.worker_id} does not serve {community}")
        if worker.party not in CONVENING_PARTIES and not worker.is_dispatcher:
            raise PermissionDenied(NOT_CONVENING)
