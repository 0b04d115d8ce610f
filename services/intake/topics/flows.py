"""Hot topics: what a community's residents raised most in a week, and what rose against the week before.

Every report counts (a neighbour's duplicate too: it says how many people the problem touches). A ticket's topic is
its catalog entry as routing stored it; a ticket routed by a precedent whose category is not a catalog id, or not
routed yet, is placed by the catalog's own matcher, and anything the catalog cannot place is "其他". A further
problem the same message raises (routing's other_issues, 一单多事) counts under its own topic too, unless a worker
split it off: the split ticket then counts for itself. A topic's count is the reports that raise it; the week's
total is the reports.
A topic that many residents raise in separate problems is a matter for them to settle together ("小事不出楼组、大事不出
社区": the residents' meeting, 议事协商), not one repair: it is marked for the meeting when at least
`meeting_min_residents` residents raised it this week and not all of it is one problem (neighbours' duplicates of one
broken light are merged into one ticket, which the party repairs).
Weeks are ISO weeks in China Standard Time (UTC+8, no daylight saving), where the compounds are (topics/week.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from linli.catalog import Catalog
from linli.errors import InvalidArgument, LinliError
from linli.parties import display_name
from services.intake.database import Database
from services.intake.tickets.validation import CommunityNames, check_community, community_names
from services.intake.topics import repository
from services.intake.topics.week import Week

OTHER_TOPIC = "other"
OTHER_NAME = "其他"
# Below this the catalog's matcher is guessing (its scores run 0-1; "你好,想反映个问题" scores about zero).
MIN_MATCH_SCORE = 0.3
TREND_WEEKS = 8
MAX_RISING = 5
# Five households raising one matter in a week is more than a building's business (楼组); 0 never suggests.
DEFAULT_MEETING_MIN_RESIDENTS = 5


@dataclass(frozen=True)
class Topic:
    """One topic's reports this week and the week before."""

    key: str
    name: str
    party: str
    party_name: str
    count: int
    previous_count: int
    residents: int = 0
    meeting_suggested: bool = False

    @property
    def rise(self) -> int:
        """Reports more than the week before (negative when fewer)."""
        return self.count - self.previous_count


@dataclass(frozen=True)
class _Report:
    """One ticket as topics see it."""

    created_at: datetime
    topics: set[str]
    resident_id: str
    merged: bool


@dataclass(frozen=True)
class WeekTotal:
    """All reports of one week, for the trend line."""

    week: Week
    count: int


@dataclass(frozen=True)
class TopicReport:
    """A community's week: topics by reports (most first), the rising ones, and the weekly trend (oldest first)."""

    community: str
    week: Week
    total: int
    previous_total: int
    topics: list[Topic]
    rising: list[Topic]
    trend: list[WeekTotal]


def classify(catalog: Catalog, catalog_entry: str, text: str) -> str | None:
    """The catalog entry of one ticket: the one routing stored, else what the catalog matches in its text, else None."""
    try:
        return catalog.get(catalog_entry).id
    except LinliError:
        pass
    matches = catalog.match(text, limit=1)
    if matches and matches[0][1] >= MIN_MATCH_SCORE:
        return matches[0][0].id
    return None


class TopicFlows:
    """Builds topic reports from the ticket store (one read-only unit of work each)."""

    def __init__(
        self,
        database: Database,
        catalog: Catalog,
        known_communities: Collection[str] | CommunityNames,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        meeting_min_residents: int = DEFAULT_MEETING_MIN_RESIDENTS,
    ) -> None:
        self._database = database
        self._catalog = catalog
        self._communities = community_names(known_communities)  # the table in service: asked at each use
        self._clock = clock
        self._meeting_min_residents = meeting_min_residents

    def report(self, community: str, week: str = "") -> TopicReport:
        """The report of `community` for `week` (`YYYY-Www`; empty: the current week)."""
        if violations := check_community(community, self._communities()):
            raise InvalidArgument.for_fields(violations)
        community = community.strip()
        chosen = Week.parse(week) if week.strip() else Week.containing(self._clock())
        first, before = chosen.shifted(-(TREND_WEEKS - 1)), chosen.shifted(-1)
        weeks = [first.shifted(offset) for offset in range(TREND_WEEKS)]
        # The trend needs only counts; topics (a catalog match per unplaced ticket, stored decisions) only this week
        # and the one before.
        reports = Counter(Week.containing(created_at) for created_at in self._report_times(community, first, chosen))
        current: Counter[str] = Counter()
        previous: Counter[str] = Counter()
        residents: dict[str, set[str]] = {}
        problems: Counter[str] = Counter()  # this week's tickets of a topic that are not a duplicate of another
        for report in self._classified(community, before.start, chosen.end):
            if Week.containing(report.created_at) != chosen:
                previous.update(report.topics)
                continue
            current.update(report.topics)
            for key in report.topics:
                residents.setdefault(key, set()).add(report.resident_id)
                problems[key] += not report.merged
        topics = [self._topic(key, current[key], previous[key], len(residents[key]), problems[key]) for key in current]
        topics.sort(key=lambda t: (-t.count, -t.rise, t.key))
        rising = sorted((t for t in topics if t.rise > 0), key=lambda t: (-t.rise, -t.count, t.key))[:MAX_RISING]
        return TopicReport(
            community=community,
            week=chosen,
            total=reports[chosen],
            previous_total=reports[before],
            topics=topics,
            rising=rising,
            trend=[WeekTotal(each, reports[each]) for each in weeks],
        )

    def topic_of(self, catalog_entry: str, text: str) -> str:
        """The topic of one ticket (see `classify`)."""
        return classify(self._catalog, catalog_entry, text) or OTHER_TOPIC

    def _report_times(self, community: str, first: Week, last: Week) -> list[datetime]:
        with self._database.unit_of_work() as session:
            return repository.report_times(community, first.start, last.end, session=session)

    def _classified(self, community: str, start: datetime, end: datetime) -> list[_Report]:
        """Each report with the topics it raises: its own, and the other issues nobody split off."""
        with self._database.unit_of_work() as session:
            rows = repository.reports_between(community, start, end, session=session)
            # Split tickets are read whenever they were made: a problem split off next week is not counted twice.
            split_entries = repository.split_entries([row.id for row in rows], session=session)
        classified = []
        for row in rows:
            own = self.topic_of(row.catalog_entry or "", row.text)
            split_off = split_entries.get(row.id, set())
            others = {entry for entry in _other_issue_entries(row.routing) if entry not in split_off}
            raised = {own} | {self.topic_of(entry, "") for entry in others}
            classified.append(_Report(row.created_at, raised, row.resident_id, row.primary_id is not None))
        return classified

    def _topic(self, key: str, count: int, previous_count: int, residents: int, problems: int) -> Topic:
        # Several problems, not one reported by many; and 其他 is no matter to put to a meeting.
        meeting = 0 < self._meeting_min_residents <= residents and problems >= 2 and key != OTHER_TOPIC
        if key == OTHER_TOPIC:
            return Topic(key, OTHER_NAME, "", "", count, previous_count, residents, meeting)
        entry = self._catalog.get(key)
        party = self._catalog.parties.get(entry.party)
        party_name = party.name if party is not None else display_name(entry.party)
        return Topic(key, entry.name, entry.party, party_name, count, previous_count, residents, meeting)


def _other_issue_entries(routing: dict[str, Any] | None) -> list[str]:
    """The catalog entries of the further problems routing saw in a message (stored proto JSON)."""
    issues = (routing or {}).get("other_issues", [])
    return [str(issue.get("entry", {}).get("entry_id", "")) for issue in issues if isinstance(issue, dict)]
