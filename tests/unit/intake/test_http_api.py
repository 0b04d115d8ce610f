"""The HTTP JSON API: status codes, the error shape, signed tokens, and that a rejected request writes nothing."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from linli.v1 import routing_pb2
from services.intake.database import Database
from services.intake.http_app import create_http_app
from services.intake.tickets.models import Ticket
from tests.tokens import as_resident, as_worker
from tests.unit.intake.fakes import Intake, decision, face_services, http_security

VALID = {"text": "小区门口的路灯坏了", "community": "西渚社区"}
PM = as_worker("w-7", "property_manager", "西渚社区")
SO = as_worker("w-2", "street_office")
DISPATCH = as_worker("d-1", "street_office", "西渚社区", "dispatcher")
RESIDENT = as_resident("r-1")


@pytest.fixture
def intake(tmp_path: Path) -> Iterator[Intake]:
    database = Database(f"sqlite:///{tmp_path / 'tickets.sqlite'}")
    database.upgrade_schema()
    yield Intake(database)
    database.dispose()


@pytest.fixture
def client(intake: Intake) -> TestClient:
    ready = threading.Event()
    ready.set()
    # Calls are the resident r-1's unless a test sends a worker's token.
    return TestClient(
        create_http_app(
            intake.flows, http_security(), intake.database, ready, faces=face_services(intake.flows, intake.database)
        ),
        headers=RESIDENT,
    )


def stored(database: Database) -> int:
    with database.unit_of_work() as session:
        return int(session.scalar(select(func.count()).select_from(Ticket)) or 0)


def routed(client: TestClient, intake: Intake, **change: str) -> str:
    ticket_id = str(client.post("/v1/tickets", json={**VALID, **change}).json()["id"])
    intake.triage.record_triage(ticket_id, decision("property_manager"))
    return ticket_id


def test_submit_then_get(client: TestClient) -> None:
    created = client.post("/v1/tickets", json=VALID)
    assert created.status_code == 201
    body = created.json()
    assert (body["status"], body["priority"], body["reporter_count"], body["duplicate_notice"]) == (
        "received",
        1,
        1,
        "",
    )
    assert body["events"][0]["kind"] == "received"
    fetched = client.get(f"/v1/tickets/{body['id']}")
    assert fetched.status_code == 200
    assert fetched.json()["text"] == VALID["text"]


def test_a_location_is_kept_and_read_back(client: TestClient) -> None:
    # An integer is a number of degrees too: JSON does not tell 31 from 31.0.
    created = client.post("/v1/tickets", json={**VALID, "location": {"latitude": 31, "longitude": 121.4737}})
    assert created.status_code == 201, created.text
    assert created.json()["location"] == {"latitude": 31.0, "longitude": 121.4737}
    fetched = client.get(f"/v1/tickets/{created.json()['id']}").json()
    assert fetched["location"] == {"latitude": 31.0, "longitude": 121.4737}
    listed = client.get("/v1/tickets").json()["tickets"]
    assert [ticket["location"] for ticket in listed] == [{"latitude": 31.0, "longitude": 121.4737}]


def test_without_a_location_it_reads_back_null(client: TestClient) -> None:
    for body in (VALID, {**VALID, "location": None}):
        created = client.post("/v1/tickets", json=body)
        assert created.status_code == 201, created.text
        assert client.get(f"/v1/tickets/{created.json()['id']}").json()["location"] is None


@pytest.mark.parametrize("latitude", [math.nan, math.inf, -math.inf])
def test_a_coordinate_that_is_not_a_finite_number_is_refused(
    client: TestClient, intake: Intake, latitude: float
) -> None:
    # Python's JSON parser reads NaN and Infinity literals; no real position is one.
    body = json.dumps({**VALID, "location": {"latitude": latitude, "longitude": 121.4}})
    assert "NaN" in body or "Infinity" in body
    reply = client.post("/v1/tickets", content=body.encode(), headers={"Content-Type": "application/json"})
    assert reply.status_code == 422, reply.text
    assert [f["field"] for f in reply.json()["error"]["fields"]] == ["location.latitude"]
    assert stored(intake.database) == 0


def test_idempotency_key_header_makes_retries_safe(client: TestClient, intake: Intake) -> None:
    first = client.post("/v1/tickets", json=VALID, headers={"Idempotency-Key": "abc"})
    again = client.post("/v1/tickets", json=VALID, headers={"Idempotency-Key": "abc"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert stored(intake.database) == 1


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({**VALID, "text": ""}, 422, "text"),
        ({**VALID, "text": "  \t "}, 422, "text"),
        ({**VALID, "text": "很" * 2001}, 422, "text"),
        ({**VALID, "text": 42}, 422, "text"),
        ({**VALID, "community": ["恒康"]}, 422, "community"),
        ({**VALID, "community": "西渚花苑"}, 422, "community"),
        ({**VALID, "attachment_urls": "http://x"}, 422, "attachment_urls"),
        ({**VALID, "attachment_urls": ["ftp://x/a.jpg"]}, 422, "attachment_urls[0]"),
        ({**VALID, "surprise": True}, 422, "surprise"),
        ({"text": "楼道灯坏了"}, 422, "community"),
        ({**VALID, "location": {"latitude": 31.23}}, 422, "location.longitude"),
        ({**VALID, "location": {"latitude": 91, "longitude": 121.47}}, 422, "location.latitude"),
        ({**VALID, "location": {"latitude": 31.23, "longitude": -180.01}}, 422, "location.longitude"),
        ({**VALID, "location": {"latitude": "31.23", "longitude": 121.47}}, 422, "location.latitude"),
        ({**VALID, "location": {"latitude": 31.23, "longitude": 121.47, "altitude": 4}}, 422, "location.altitude"),
        ({**VALID, "location": [31.23, 121.47]}, 422, "location"),
    ],
)
def test_bad_bodies_get_a_4xx_naming_the_field(
    client: TestClient, intake: Intake, body: dict[str, object], status: int, field: str
) -> None:
    reply = client.post("/v1/tickets", json=body)
    assert reply.status_code == status
    error = reply.json()["error"]
    assert error["code"] == "invalid_argument"
    assert field in [f["field"] for f in error["fields"]]
    assert stored(intake.database) == 0


def test_invalid_json_is_a_400(client: TestClient, intake: Intake) -> None:
    reply = client.post("/v1/tickets", content=b'{"text": "oops', headers={"Content-Type": "application/json"})
    assert reply.status_code == 400
    assert reply.json()["error"]["fields"][0]["field"] == "body"
    assert stored(intake.database) == 0


def test_unknown_ticket_is_404(client: TestClient) -> None:
    reply = client.get("/v1/tickets/nope")
    assert reply.status_code == 404
    assert reply.json()["error"]["code"] == "not_found"


def test_a_made_up_id_of_any_length_is_404_without_being_echoed_whole(client: TestClient) -> None:
    reply = client.get(f"/v1/tickets/{'x' * 5000}")
    assert reply.status_code == 404
    assert len(reply.content) < 1000
    assert f"'{'x' * 64}…'" in reply.text


@pytest.mark.parametrize(
    "headers",
    [{"Authorization": ""}, {"Authorization": "Bearer nobody-issued-this"}, {"Authorization": "Basic cG06dG9rZW4="}],
    ids=["missing", "unknown", "not-bearer"],
)
def test_worker_actions_without_a_known_token_are_401(
    client: TestClient, intake: Intake, headers: dict[str, str]
) -> None:
    ticket_id = routed(client, intake)
    reply = client.post(f"/v1/tickets/{ticket_id}/accept", headers=headers)
    assert reply.status_code == 401
    assert reply.headers["WWW-Authenticate"] == "Bearer"
    assert reply.json()["error"]["code"] == "unauthenticated"
    assert client.get(f"/v1/tickets/{ticket_id}").json()["status"] == "routed"


def test_another_partys_ticket_is_404_a_false_claim_403_and_wrong_state_409(client: TestClient, intake: Intake) -> None:
    ticket_id = routed(client, intake)
    assert client.post(f"/v1/tickets/{ticket_id}/accept", headers=SO).status_code == 404
    claimed = client.post(f"/v1/tickets/{ticket_id}/accept", json={"party": "street_office"}, headers=PM)
    assert claimed.status_code == 403  # a body claiming another party than the token's
    assert client.post(f"/v1/tickets/{ticket_id}/resolve", json={"resolution": "已处理"}, headers=PM).status_code == 409


def test_a_worker_takes_a_ticket_through_its_lifecycle(client: TestClient, intake: Intake) -> None:
    ticket_id = routed(client, intake)
    accepted = client.post(f"/v1/tickets/{ticket_id}/accept", headers=PM).json()
    assert (accepted["status"], accepted["assignee_worker_id"]) == ("accepted", "w-7")
    assert client.post(f"/v1/tickets/{ticket_id}/start", headers=PM).json()["status"] == "in_progress"
    moved = client.post(
        f"/v1/tickets/{ticket_id}/transfer", json={"to_party": "street_office", "reason": "市政路灯归街道"}, headers=PM
    ).json()
    assert (moved["status"], moved["party"]) == ("transferred", "street_office")
    assert client.post(f"/v1/tickets/{ticket_id}/accept", headers=SO).status_code == 200
    done = client.post(f"/v1/tickets/{ticket_id}/resolve", json={"resolution": "已报市政维修"}, headers=SO).json()
    assert (done["status"], done["events"][-1]["party"]) == ("resolved", "street_office")
    rated = client.post(f"/v1/tickets/{ticket_id}/rate", json={"resident_id": "r-1", "score": 2}).json()  # old body
    assert (rated["status"], rated["escalation_level"]) == ("reopened", "street")
    assert client.post(f"/v1/tickets/{ticket_id}/reopen", json={"reason": "灯还是不亮"}).status_code == 409


def test_merge_unmerge_and_dispatch(client: TestClient, intake: Intake) -> None:
    primary = routed(client, intake)
    other = routed(client, intake, text="门口路灯不亮了")
    merged = client.post(f"/v1/tickets/{other}/merge", json={"primary_ticket_id": primary}, headers=PM).json()
    assert (merged["ticket"]["status"], merged["ticket"]["primary_status"]) == ("merged", "routed")
    assert merged["primary"]["duplicate_notice"] == "1 位邻居也反映了这个问题"
    listed = client.get("/v1/tickets", params={"primary_ticket_id": primary}, headers=PM).json()["tickets"]
    assert [t["id"] for t in listed] == [other]
    unmerged = client.post(f"/v1/tickets/{other}/unmerge", json={"reason": "不是同一处路灯"}, headers=PM).json()
    assert unmerged["status"] == "routed"
    manual = client.post("/v1/tickets", json={**VALID, "text": "说不清归谁管"}).json()["id"]
    intake.triage.send_to_manual(manual, reason="自动分派暂不可用")
    body = {"to_party": "owners_committee"}
    assert client.post(f"/v1/tickets/{manual}/dispatch", json=body, headers=PM).status_code == 404
    dispatched = client.post(f"/v1/tickets/{manual}/dispatch", json=body, headers=DISPATCH).json()
    assert (dispatched["status"], dispatched["party"]) == ("routed", "owners_committee")


TWO_PROBLEMS = "楼道灯坏了好几天了,另外小区门口总有车停在消防通道上"
FIRE_LANE = "小区门口总有车停在消防通道上"


def two_problems(client: TestClient, intake: Intake) -> str:
    """A ticket whose message raises a second problem, routed for the first with the second as an other issue."""
    ticket_id = str(client.post("/v1/tickets", json={**VALID, "text": TWO_PROBLEMS}).json()["id"])
    chosen = decision("property_manager", entry_id="stairwell_light_broken")
    chosen.other_issues.add(
        entry=routing_pb2.CatalogMatch(
            entry_id="fire_lane_blocked", name="消防通道被占", score=0.62, party="street_office", basis="消防法"
        ),
        excerpt=FIRE_LANE,
    )
    intake.triage.record_triage(ticket_id, chosen)
    return ticket_id


def test_the_routing_view_shows_the_other_issues_to_whoever_sees_the_ticket(client: TestClient, intake: Intake) -> None:
    ticket_id = two_problems(client, intake)
    expected = [
        {
            "entry_id": "fire_lane_blocked",
            "name": "消防通道被占",
            "party": "street_office",
            "score": 0.62,
            "excerpt": FIRE_LANE,
        }
    ]
    # The rule of the routing block: whoever may see the ticket sees it (the excerpt is the resident's own words).
    for headers in (PM, RESIDENT):
        assert client.get(f"/v1/tickets/{ticket_id}", headers=headers).json()["routing"]["other_issues"] == expected
    listed = client.get("/v1/tickets", headers=PM).json()["tickets"]
    assert [t["routing"]["other_issues"] for t in listed] == [expected]
    one_problem = routed(client, intake)
    assert client.get(f"/v1/tickets/{one_problem}", headers=PM).json()["routing"]["other_issues"] == []


def test_a_worker_splits_an_other_issue_into_a_ticket_of_the_resident(client: TestClient, intake: Intake) -> None:
    ticket_id = two_problems(client, intake)
    reply = client.post(f"/v1/tickets/{ticket_id}/split", json={"text": FIRE_LANE}, headers=PM)
    assert reply.status_code == 201, reply.text
    split = reply.json()
    assert (split["status"], split["text"], split["split_from_ticket_id"]) == ("received", FIRE_LANE, ticket_id)
    assert (split["resident_id"], split["community"]) == ("r-1", VALID["community"])
    assert [(e["kind"], e["actor"], e["party"]) for e in split["events"]] == [
        ("split_off", "worker:w-7", "property_manager")
    ]
    assert intake.queue.triage[-1] == split["id"]
    origin = client.get(f"/v1/tickets/{ticket_id}", headers=PM).json()
    assert (origin["split_ticket_ids"], origin["split_from_ticket_id"]) == ([split["id"]], "")
    assert origin["events"][-1]["kind"] == "split"
    # The resident follows it as their own: in their list, readable, and rated once resolved.
    assert {t["id"] for t in client.get("/v1/tickets").json()["tickets"]} == {ticket_id, split["id"]}
    intake.triage.record_triage(split["id"], decision("street_office"))
    for action, body in (("accept", None), ("resolve", {"resolution": "已清理消防通道"})):
        assert client.post(f"/v1/tickets/{split['id']}/{action}", json=body, headers=SO).status_code == 200
    rated = client.post(f"/v1/tickets/{split['id']}/rate", json={"score": 5})
    assert (rated.status_code, rated.json()["status"]) == (200, "closed")


def test_bad_splits_get_their_codes_and_write_nothing(client: TestClient, intake: Intake) -> None:
    ticket_id = two_problems(client, intake)
    split = f"/v1/tickets/{ticket_id}/split"
    assert client.post(split, json={"text": FIRE_LANE}).status_code == 403  # a resident's token
    assert client.post(split, json={"text": FIRE_LANE}, headers=SO).status_code == 404  # another party's: unseen
    assert client.post("/v1/tickets/nope/split", json={"text": FIRE_LANE}, headers=PM).status_code == 404
    for body in ({"text": ""}, {"text": " 车 "}, {"text": "长" * 2001}, {"text": 42}, {}, {"text": FIRE_LANE, "x": 1}):
        reply = client.post(split, json=body, headers=PM)
        assert reply.status_code == 422, body
        assert reply.json()["error"]["fields"][0]["field"] in ("text", "x")
    assert stored(intake.database) == 1
    assert client.post(split, json={"text": FIRE_LANE}, headers=PM).status_code == 201
    again = client.post(split, json={"text": FIRE_LANE}, headers=PM)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "already_exists")
    client.post(f"/v1/tickets/{ticket_id}/accept", headers=PM)
    client.post(f"/v1/tickets/{ticket_id}/resolve", json={"resolution": "已更换楼道灯"}, headers=PM)
    closed = client.post(split, json={"text": "门口的垃圾桶满了"}, headers=PM)
    assert (closed.status_code, closed.json()["error"]["code"]) == (409, "failed_precondition")
    assert stored(intake.database) == 2


def test_listing_filters_and_pages(client: TestClient) -> None:
    for n in range(3):
        client.post("/v1/tickets", json={**VALID, "text": f"路灯坏了第{n}次"})
    client.post("/v1/tickets", json={**VALID, "community": "梅林小区"})
    client.post("/v1/tickets", json=VALID, headers=as_resident("r-2"))  # a neighbour's: never in r-1's list
    page = client.get("/v1/tickets", params={"community": "西渚社区", "page_size": 2}).json()
    assert len(page["tickets"]) == 2
    assert page["next_page_token"]
    rest = client.get(
        "/v1/tickets", params={"community": "西渚社区", "page_size": 2, "page_token": page["next_page_token"]}
    ).json()
    assert len(rest["tickets"]) == 1
    assert rest["next_page_token"] == ""
    assert client.get("/v1/tickets", params={"page_size": 0}).status_code == 422
    assert client.get("/v1/tickets", params={"escalation_level": "street"}).json()["tickets"] == []


def test_the_openapi_document_names_the_bearer_scheme(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert "HTTPBearer" in document["components"]["securitySchemes"]
    assert "/v1/tickets/{ticket_id}/merge" in document["paths"]
    assert "201" in document["paths"]["/v1/tickets/{ticket_id}/split"]["post"]["responses"]
    assert "/v1/auth/wechat" in document["paths"]
    submit = document["components"]["schemas"]["SubmitTicketBody"]
    assert "resident_id" not in submit.get("required", [])
    assert "must match the token" in submit["properties"]["resident_id"]["description"]


def test_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}


def test_workers_me_names_the_worker_and_refuses_a_resident(client: TestClient) -> None:
    me = client.get("/v1/workers/me", headers=DISPATCH)
    assert me.status_code == 200
    assert me.json() == {
        "worker_id": "d-1",
        "display_name": "",  # a token's worker the organisation does not register
        "party": "street_office",
        "party_name": me.json()["party_name"],
        "community": "西渚社区",
        "role": "dispatcher",
        "street": "",
        "communities": ["西渚社区"],
    }
    assert me.json()["party_name"] != ""
    assert client.get("/v1/workers/me").status_code == 403
