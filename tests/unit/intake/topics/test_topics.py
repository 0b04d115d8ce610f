"""Hot topics: reports per catalog entry in a community's ISO week, the rise against the week before, the trend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from linli.catalog import Catalog, load_catalog
from linli.errors import InvalidArgument
from linli.v1 import routing_pb2
from services.intake.database import Database
from services.intake.settings import DEFAULT_COMMUNITIES
from services.intake.tickets.validation import Submission
from services.intake.topics.flows import OTHER_TOPIC, TopicFlows
from services.intake.topics.week import CHINA_TIME, Week
from tests.unit.fakes import StepClock
from tests.unit.intake.fakes import PROPERTY, Intake, decision

# Provides the `ticket_database` fixture (SQLite and PostgreSQL).
pytest_plugins = ["tests.unit.intake.database"]

# Monday 2026-11-16 00:00 in Shanghai is Sunday 16:00 UTC: the week boundary is China's, not UTC's.
WEEK_47 = datetime(2026, 11, 16, tzinfo=CHINA_TIME)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def report_at(intake: Intake, catalog: Catalog) -> TopicFlows:
    return TopicFlows(intake.database, catalog, DEFAULT_COMMUNITIES, clock=lambda: WEEK_47 + timedelta(days=7, hours=3))


def file_ticket(
    intake: Intake,
    at: datetime,
    text: str,
    *,
    entry: str = "",
    category: str = "",
    community: str = "恒康居民区",
    resident: str = "r-1",
) -> str:
    intake.clock.now = at.astimezone(UTC)
    view, _ = intake.flows.submit(Submission(text=text, community=community, resident_id=resident))
    if entry or category:
        routed = decision("property_manager", entry_id=entry)
        routed.category = category
        intake.triage.record_triage(view.ticket.id, routed)
    return view.ticket.id


def test_weeks_are_iso_weeks_in_china_time() -> None:
    assert Week.parse("2026-W47") == Week(2026, 47)
    assert Week.parse("2026-W47").start == WEEK_47
    assert Week.containing(datetime(2026, 11, 15, 16, 30, tzinfo=UTC)) == Week(2026, 47)  # Monday 00:30 in Shanghai
    assert Week.containing(datetime(2026, 11, 15, 15, 30, tzinfo=UTC)) == Week(2026, 46)
    assert str(Week(2027, 1).shifted(-1)) == "2026-W53"
    for bad in ("2026-47", "2026-W54", "W47", ""):
        with pytest.raises(InvalidArgument):
            Week.parse(bad)


def test_topics_count_this_week_against_last(ticket_database: Database, catalog: Catalog) -> None:
    intake = Intake(ticket_database, clock=StepClock())
    previous, current = WEEK_47 - timedelta(days=3), WEEK_47 + timedelta(days=2)
    file_ticket(intake, previous, "5号楼电梯又坏了", entry="lift_breakdown")
    file_ticket(intake, current, "3号楼楼道灯坏了", entry="stairwell_light_broken")
    file_ticket(intake, current, "2号楼楼道灯也不亮", entry="stairwell_light_broken")
    # Routed by a precedent whose category is not a catalog id: the catalog's matcher places it.
    file_ticket(intake, current, "楼道的声控灯坏了,晚上摸黑上楼", category="stairwell_light")
    file_ticket(intake, current, "电梯困人了", entry="lift_breakdown")
    file_ticket(intake, current, "你好,想反映个情况")  # not triaged, nothing to match: 其他
    file_ticket(intake, current, "楼道灯坏了", entry="stairwell_light_broken", community="梅林小区")  # elsewhere
    file_ticket(intake, WEEK_47 + timedelta(days=8), "楼道灯坏了", entry="stairwell_light_broken")  # next week

    report = report_at(intake, catalog).report("恒康居民区", "2026-W47")
    counts = {t.key: (t.count, t.previous_count, t.rise) for t in report.topics}
    assert counts == {"stairwell_light_broken": (3, 0, 3), "lift_breakdown": (1, 1, 0), OTHER_TOPIC: (1, 0, 1)}
    assert report.topics[0].key == "stairwell_light_broken"
    assert (report.total, report.previous_total) == (5, 1)
    assert [t.key for t in report.rising] == ["stairwell_light_broken", OTHER_TOPIC]
    light = report.topics[0]
    assert (light.name, light.party, light.party_name) == ("楼道灯等共用照明损坏", "property_manager", "物业服务企业")
    assert [str(w.week) for w in report.trend][-2:] == ["2026-W46", "2026-W47"]
    assert [w.count for w in report.trend] == [0, 0, 0, 0, 0, 0, 1, 5]


def test_a_further_problem_in_a_message_counts_under_its_own_topic_once(
    ticket_database: Database, catalog: Catalog
) -> None:
    intake = Intake(ticket_database, clock=StepClock())
    day = WEEK_47 + timedelta(days=2)

    def two_problems(text: str) -> str:
        ticket_id = file_ticket(intake, day, text)
        routed = decision("property_manager", entry_id="stairwell_light_broken")
        routed.other_issues.add(
            entry=routing_pb2.CatalogMatch(entry_id="fire_lane_blocked", party="street_office"),
            excerpt="门口总有车停在消防通道上",
        )
        intake.triage.record_triage(ticket_id, routed)
        return ticket_id

    two_problems("3号楼楼道灯坏了,另外门口总有车停在消防通道上")
    split_from = two_problems("5号楼楼道灯不亮,还有消防通道被车堵了")
    # A worker split the second one's fire lane off: that ticket counts for itself, the message no longer does.
    split = intake.flows.split(split_from, PROPERTY, text="消防通道被车堵了").ticket.id
    intake.triage.record_triage(split, decision("street_office", entry_id="fire_lane_blocked"))

    report = report_at(intake, catalog).report("恒康居民区", "2026-W47")
    counts = {t.key: t.count for t in report.topics}
    assert counts == {"stairwell_light_broken": 2, "fire_lane_blocked": 2}
    assert report.total == 3  # reports, not mentions


def test_many_residents_raising_separate_problems_is_a_matter_for_the_meeting(
    ticket_database: Database, catalog: Catalog
) -> None:
    intake = Intake(ticket_database, clock=StepClock())
    day = WEEK_47 + timedelta(days=1)
    for n in range(5):  # five households, five separate parking problems
        file_ticket(
            intake, day, f"{n + 1}号楼下面车乱停,晚上回来没车位", entry="parking_order_inside", resident=f"r-{n}"
        )
    # Five neighbours report one broken light: merged into one ticket, which the party repairs.
    light = file_ticket(intake, day, "3号楼楼道灯坏了", entry="stairwell_light_broken", resident="r-10")
    for n in range(11, 15):
        merged = file_ticket(intake, day, "3号楼楼道灯坏了", entry="stairwell_light_broken", resident=f"r-{n}")
        intake.flows.merge(merged, PROPERTY, primary_id=light)

    topics = {t.key: t for t in report_at(intake, catalog).report("恒康居民区", "2026-W47").topics}
    assert (topics["parking_order_inside"].residents, topics["parking_order_inside"].meeting_suggested) == (5, True)
    assert (topics["stairwell_light_broken"].residents, topics["stairwell_light_broken"].meeting_suggested) == (
        5,
        False,
    )
    fewer = TopicFlows(intake.database, catalog, DEFAULT_COMMUNITIES, meeting_min_residents=6)
    assert not any(t.meeting_suggested for t in fewer.report("恒康居民区", "2026-W47").topics)
    never = TopicFlows(intake.database, catalog, DEFAULT_COMMUNITIES, meeting_min_residents=0)
    assert not any(t.meeting_suggested for t in never.report("恒康居民区", "2026-W47").topics)


def test_default_week_is_the_current_one(ticket_database: Database, catalog: Catalog) -> None:
    intake = Intake(ticket_database, clock=StepClock())
    file_ticket(intake, WEEK_47 + timedelta(days=7, hours=1), "3号楼楼道灯坏了", entry="stairwell_light_broken")
    report = report_at(intake, catalog).report("恒康居民区")
    assert (str(report.week), report.total) == ("2026-W48", 1)


def test_unknown_community_is_refused(ticket_database: Database, catalog: Catalog) -> None:
    with pytest.raises(InvalidArgument) as raised:
        report_at(Intake(ticket_database), catalog).report("火星小区", "2026-W47")
    assert raised.value.violations[0].field == "community"
