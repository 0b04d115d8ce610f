"""The residents' meeting (议事): a hot topic proposed, scheduled, decided or dropped, and the public decisions; on
SQLite and PostgreSQL, through the flows and through HTTP."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from linli.catalog import load_catalog
from linli.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from services.intake.auth import Role, Worker
from services.intake.database import Database
from services.intake.http_app import create_http_app
from services.intake.meetings.flows import MeetingFlows
from services.intake.meetings.models import MeetingStatus
from services.intake.settings import DEFAULT_COMMUNITIES
from services.intake.tickets.validation import Submission
from services.intake.topics.flows import TopicFlows
from services.intake.topics.week import CHINA_TIME
from tests.tokens import as_resident, as_worker
from tests.unit.fakes import StepClock
from tests.unit.intake.fakes import (
    DISPATCHER,
    ELSEWHERE,
    OWNERS,
    PROPERTY,
    STREET,
    Intake,
    decision,
    face_services,
    http_security,
)

# Provides the `ticket_database` fixture (SQLite and PostgreSQL).
pytest_plugins = ["tests.unit.intake.database"]

COMMUNITY = "恒康居民区"
PARKING = "parking_order_inside"
WEEK_47 = datetime(2026, 11, 16, tzinfo=CHINA_TIME)
MEETING_AT = datetime(2026, 11, 26, 19, 0, tzinfo=CHINA_TIME)
Act = Callable[[], object]
CLAUSE = "外来车辆不得在小区内过夜停放;消防通道两侧划黄线,违停由物业劝离。"


@pytest.fixture
def intake(ticket_database: Database) -> Intake:
    return Intake(ticket_database, clock=StepClock(WEEK_47.astimezone(UTC) + timedelta(days=1)))


@pytest.fixture
def meetings(intake: Intake) -> MeetingFlows:
    clock = StepClock(WEEK_47.astimezone(UTC) + timedelta(days=3))
    topics = TopicFlows(intake.database, load_catalog(), DEFAULT_COMMUNITIES, clock=clock)
    return MeetingFlows(intake.database, topics, DEFAULT_COMMUNITIES, clock=clock)


def parking_complaints(intake: Intake, households: int = 5) -> None:
    """`households` residents report parking, one of them twice: the week-47 evidence."""
    for n in range(households + 1):
        text = f"{n % households + 1}号楼下面车乱停,晚上回来没车位"
        view, _ = intake.flows.submit(Submission(text=text, community=COMMUNITY, resident_id=f"r-{n % households}"))
        intake.triage.record_triage(view.ticket.id, decision("property_manager", entry_id=PARKING))


def test_a_topic_goes_from_proposal_to_a_public_decision(intake: Intake, meetings: MeetingFlows) -> None:
    parking_complaints(intake)
    item = meetings.propose(f" {COMMUNITY} ", PARKING, " 小区停车秩序 ", "", STREET)
    assert (item.status, item.community, item.topic_key, item.title) == ("proposed", COMMUNITY, PARKING, "小区停车秩序")
    assert (item.week, item.residents, item.reports) == ("2026-W47", 5, 6)  # the evidence of the current week
    assert (item.proposed_by, item.meeting_at, item.decided_at) == ("worker:w-2", None, None)

    scheduled = meetings.schedule(item.id, MEETING_AT, OWNERS)
    assert (scheduled.status, scheduled.meeting_at, scheduled.updated_by) == ("scheduled", MEETING_AT, "worker:w-5")
    moved = meetings.schedule(item.id, MEETING_AT + timedelta(days=1), DISPATCHER)  # the meeting moves
    assert moved.meeting_at == MEETING_AT + timedelta(days=1)
    decided = meetings.decide(item.id, f"  {CLAUSE}\n", STREET)
    assert (decided.status, decided.outcome) == ("decided", CLAUSE)
    assert decided.decided_at is not None
    assert decided.decided_at > item.proposed_at

    assert [i.id for i in meetings.list(COMMUNITY, [MeetingStatus.DECIDED])] == [item.id]
    assert meetings.list(COMMUNITY, [MeetingStatus.PROPOSED, MeetingStatus.SCHEDULED]) == []
    # Decided, the topic may come back to a later meeting.
    again = meetings.propose(COMMUNITY, PARKING, "停车秩序(续)", "2026-W47", STREET)
    assert {i.id for i in meetings.list(COMMUNITY)} == {item.id, again.id}


def test_a_second_open_proposal_of_a_topic_is_409_until_the_first_is_dropped(
    intake: Intake, meetings: MeetingFlows
) -> None:
    parking_complaints(intake)
    item = meetings.propose(COMMUNITY, PARKING, "小区停车秩序", "2026-W47", STREET)
    with pytest.raises(AlreadyExists) as raised:
        meetings.propose(COMMUNITY, PARKING, "停车", "2026-W47", OWNERS)
    assert raised.value.http_status == 409
    meetings.schedule(item.id, MEETING_AT, STREET)
    with pytest.raises(AlreadyExists):
        meetings.propose(COMMUNITY, PARKING, "停车", "2026-W47", OWNERS)
    dropped = meetings.drop(item.id, "  已并入下月业主大会议题 ", OWNERS)
    assert (dropped.status, dropped.reason) == ("dropped", "已并入下月业主大会议题")
    assert meetings.propose(COMMUNITY, PARKING, "停车", "2026-W47", OWNERS).status == "proposed"


def test_wrong_transitions_are_409(intake: Intake, meetings: MeetingFlows) -> None:
    parking_complaints(intake)
    item = meetings.propose(COMMUNITY, PARKING, "小区停车秩序", "2026-W47", STREET)
    with pytest.raises(FailedPrecondition):
        meetings.decide(item.id, CLAUSE, STREET)  # no meeting yet
    meetings.schedule(item.id, MEETING_AT, STREET)
    meetings.decide(item.id, CLAUSE, STREET)
    acts: list[Act] = [
        lambda: meetings.schedule(item.id, MEETING_AT, STREET),
        lambda: meetings.decide(item.id, CLAUSE, STREET),
        lambda: meetings.drop(item.id, "不开了", STREET),
    ]
    for act in acts:
        with pytest.raises(FailedPrecondition) as raised:
            act()
        assert raised.value.http_status == 409
    with pytest.raises(NotFound):
        meetings.schedule("nope\x00", MEETING_AT, STREET)


@pytest.mark.parametrize(
    "worker",
    [
        PROPERTY,  # the property manager takes part in the meeting but does not convene it
        ELSEWHERE,
        Worker("w-3", "owners_committee", "梅林小区"),
        Worker("d-9", "property_manager", "梅林小区", Role.DISPATCHER),
    ],
)
def test_only_the_conveners_of_the_community_act(intake: Intake, meetings: MeetingFlows, worker: Worker) -> None:
    parking_complaints(intake)
    with pytest.raises(PermissionDenied):
        meetings.propose(COMMUNITY, PARKING, "小区停车秩序", "2026-W47", worker)
    item = meetings.propose(COMMUNITY, PARKING, "小区停车秩序", "2026-W47", STREET)
    acts: list[Act] = [
        lambda: meetings.schedule(item.id, MEETING_AT, worker),
        lambda: meetings.drop(item.id, "不开了", worker),
    ]
    for act in acts:
        with pytest.raises(PermissionDenied):
            act()
    assert meetings.list(COMMUNITY)[0].status == "proposed"


def test_bad_input_names_the_field(intake: Intake, meetings: MeetingFlows) -> None:
    parking_complaints(intake)
    cases: list[tuple[Act, str]] = [
        (lambda: meetings.propose(COMMUNITY, PARKING, "  ", "2026-W47", STREET), "title"),
        (lambda: meetings.propose(COMMUNITY, PARKING, "停" * 129, "2026-W47", STREET), "title"),
        (lambda: meetings.propose("火星小区", PARKING, "停车", "2026-W47", STREET), "community"),
        (lambda: meetings.propose(COMMUNITY, PARKING, "停车", "2026-47", STREET), "week"),
        # Nobody raised it that week: no evidence, no proposal.
        (lambda: meetings.propose(COMMUNITY, "lift_breakdown", "电梯", "2026-W47", STREET), "topic_key"),
        (lambda: meetings.propose(COMMUNITY, PARKING, "停车", "2026-W46", STREET), "topic_key"),
    ]
    for act, field in cases:
        with pytest.raises(InvalidArgument) as raised:
            act()
        assert raised.value.violations[0].field == field
    item = meetings.propose(COMMUNITY, PARKING, "停车", "2026-W47", STREET)
    invalid: list[tuple[Act, str]] = [
        (lambda: meetings.schedule(item.id, datetime(2026, 11, 26, 19, 0), STREET), "meeting_at"),
        (lambda: meetings.schedule(item.id, datetime(1, 1, 1, tzinfo=CHINA_TIME), STREET), "meeting_at"),
        (lambda: meetings.drop(item.id, " ", STREET), "reason"),
        (lambda: meetings.decide(item.id, "x" * 2001, STREET), "outcome"),
    ]
    for act, field in invalid:
        with pytest.raises(InvalidArgument) as raised:
            act()
        assert raised.value.violations[0].field == field


@pytest.fixture
def client(intake: Intake) -> TestClient:
    ready = threading.Event()
    ready.set()
    return TestClient(
        create_http_app(
            intake.flows, http_security(), intake.database, ready, faces=face_services(intake.flows, intake.database)
        )
    )


def test_over_http_workers_decide_and_residents_read_the_decisions_only(client: TestClient, intake: Intake) -> None:
    parking_complaints(intake)
    street = as_worker("w-2", "street_office", COMMUNITY)
    body = {"community": COMMUNITY, "topic_key": PARKING, "title": "小区停车秩序", "week": "2026-W47"}
    created = client.post("/v1/meetings", json=body, headers=street)
    assert created.status_code == 201, created.text
    item = created.json()
    assert (item["status"], item["residents"], item["reports"], item["proposed_by"]) == ("proposed", 5, 6, "worker:w-2")
    conflict = client.post("/v1/meetings", json=body, headers=as_worker("w-5", "owners_committee", COMMUNITY))
    assert (conflict.status_code, conflict.json()["error"]["code"]) == (409, "already_exists")
    other = client.post("/v1/meetings", json={**body, "topic_key": "stairwell_light_broken"}, headers=street)
    assert (other.status_code, other.json()["error"]["fields"][0]["field"]) == (422, "topic_key")
    public = client.get("/v1/meetings/public", params={"community": COMMUNITY}, headers=as_resident("r-1"))
    assert (public.status_code, public.json()) == (200, {"decisions": []})  # nothing decided yet

    decide = client.post(f"/v1/meetings/{item['id']}/decide", json={"outcome": CLAUSE}, headers=street)
    assert (decide.status_code, decide.json()["error"]["code"]) == (409, "failed_precondition")
    naive = client.post(f"/v1/meetings/{item['id']}/schedule", json={"meeting_at": "2026-11-26T19:00"}, headers=street)
    assert (naive.status_code, naive.json()["error"]["fields"][0]["field"]) == (422, "meeting_at")
    scheduled = client.post(
        f"/v1/meetings/{item['id']}/schedule", json={"meeting_at": "2026-11-26T19:00:00+08:00"}, headers=street
    )
    assert (scheduled.status_code, scheduled.json()["meeting_at"]) == (200, "2026-11-26T11:00:00Z")
    denied = client.post(
        f"/v1/meetings/{item['id']}/decide", json={"outcome": CLAUSE}, headers=as_worker("w-7", "property_manager")
    )
    assert (denied.status_code, denied.json()["error"]["code"]) == (403, "permission_denied")
    decided = client.post(f"/v1/meetings/{item['id']}/decide", json={"outcome": CLAUSE}, headers=street)
    assert (decided.status_code, decided.json()["status"]) == (200, "decided")

    # A second item, dropped: workers see both, residents only the decision, with no worker named.
    again = client.post("/v1/meetings", json=body, headers=street).json()
    dropped = client.post(f"/v1/meetings/{again['id']}/drop", json={"reason": "重复议题"}, headers=street)
    assert dropped.json()["status"] == "dropped"
    listed = client.get("/v1/meetings", params={"community": COMMUNITY}, headers=street).json()["items"]
    assert {i["status"] for i in listed} == {"decided", "dropped"}
    only = client.get("/v1/meetings", params={"community": COMMUNITY, "status": "dropped"}, headers=street)
    assert [i["id"] for i in only.json()["items"]] == [again["id"]]
    public = client.get("/v1/meetings/public", params={"community": COMMUNITY}, headers=as_resident("r-9")).json()
    assert public == {
        "decisions": [
            {
                "title": "小区停车秩序",
                "outcome": CLAUSE,
                "meeting_at": "2026-11-26T11:00:00Z",
                "decided_at": decided.json()["decided_at"],
                "week": "2026-W47",
                "residents": 5,
                "reports": 6,
            }
        ]
    }


def test_over_http_the_worker_list_is_the_communitys_and_the_public_list_needs_a_token(client: TestClient) -> None:
    elsewhere = client.get("/v1/meetings", params={"community": COMMUNITY}, headers=as_worker("w-9", "x", "梅林小区"))
    assert elsewhere.status_code == 403
    resident = client.get("/v1/meetings", params={"community": COMMUNITY}, headers=as_resident("r-1"))
    assert resident.status_code == 403
    proposed = client.post(
        "/v1/meetings",
        json={"community": COMMUNITY, "topic_key": PARKING, "title": "停车"},
        headers=as_resident("r-1"),
    )
    assert proposed.status_code == 403
    assert client.get("/v1/meetings/public", params={"community": COMMUNITY}).status_code == 401
    unknown = client.get("/v1/meetings/public", params={"community": "火星小区"}, headers=as_resident("r-1"))
    assert (unknown.status_code, unknown.json()["error"]["fields"][0]["field"]) == (422, "community")
