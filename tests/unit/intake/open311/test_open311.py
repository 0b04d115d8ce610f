"""Open311 GeoReport v2: services from the catalog, requests posted, read back with the spec's fields and statuses."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from linli.catalog import load_catalog
from services.intake.auth import Worker
from services.intake.database import Database
from services.intake.settings import IntakeSettings
from services.intake.web import mount_faces
from tests.unit.fakes import StepClock
from tests.unit.intake.fakes import Intake, decision, face_services

API_KEY = "city-app-key"
BASE = "/open311/v2"
LIGHT = {
    "api_key": API_KEY,
    "service_code": "stairwell_light_broken",
    "description": "3号楼2单元楼道灯坏了一周,电话13812345678",
    "address_string": "恒康居民区3号楼2单元",
}
WORKER = Worker("w-7", "property_manager", "恒康居民区")
REQUEST_FIELDS = {
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
}


@pytest.fixture
def intake(tmp_path: Path) -> Iterator[Intake]:
    database = Database(f"sqlite:///{tmp_path / 'tickets.sqlite'}")
    database.upgrade_schema()
    # Within the spec's default 90-day window of GET requests.
    yield Intake(database, clock=StepClock(datetime.now(UTC) - timedelta(hours=1)))
    database.dispose()


@pytest.fixture
def client(intake: Intake) -> TestClient:
    app = FastAPI()
    settings = IntakeSettings(open311_api_keys={API_KEY: "city-app"})
    mount_faces(app, face_services(intake.flows, intake.database, settings))
    return TestClient(app)


def post(client: TestClient, **change: Any) -> list[dict[str, Any]]:
    reply = client.post(f"{BASE}/requests.json", data={**LIGHT, **change})
    assert reply.status_code == 201, reply.text
    body: list[dict[str, Any]] = reply.json()
    return body


def read(client: TestClient, request_id: str) -> dict[str, Any]:
    reply = client.get(f"{BASE}/requests/{request_id}.json", params={"api_key": API_KEY})
    assert reply.status_code == 200, reply.text
    body: list[dict[str, Any]] = reply.json()
    assert len(body) == 1
    return body[0]


def test_discovery_points_at_the_v2_endpoint(client: TestClient) -> None:
    body = client.get(f"{BASE}/discovery.json").json()
    endpoint = body["endpoints"][0]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2")
    assert endpoint["formats"] == ["text/xml", "application/json"]


def test_services_are_the_catalog_entries(client: TestClient) -> None:
    services = client.get(f"{BASE}/services.json").json()
    catalog = load_catalog()
    assert [s["service_code"] for s in services] == [e.id for e in catalog.entries]
    light = next(s for s in services if s["service_code"] == "stairwell_light_broken")
    assert set(light) == {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
    # metadata: its definition (services/{code}) has the community attribute.
    assert (light["metadata"], light["type"], light["group"]) == (True, "realtime", "物业服务企业")
    assert "楼道灯" in light["keywords"].split(",")


def test_posted_request_reads_back_with_the_spec_fields(client: TestClient, intake: Intake) -> None:
    created = post(client, media_url="https://img.example.cn/light.jpg", account_id="acct-9")
    assert set(created[0]) == {"service_request_id", "service_notice", "account_id"}
    assert created[0]["account_id"] == "acct-9"
    # Namespaced by client: an Open311 account cannot pass for an H5 resident.
    assert intake.flows.get(created[0]["service_request_id"]).ticket.resident_id == "open311:city-app:acct-9"
    request = read(client, created[0]["service_request_id"])
    assert set(request) == REQUEST_FIELDS
    assert (request["status"], request["service_code"], request["service_name"]) == (
        "open",
        "stairwell_light_broken",
        "楼道灯等共用照明损坏",
    )
    assert request["address"] == "恒康居民区3号楼"
    assert request["media_url"] == "https://img.example.cn/light.jpg"
    # Scrubbed: the resident's phone number never leaves.
    assert "13812345678" not in request["description"]
    assert request["description"].startswith("3号楼2单元楼道灯坏了一周")
    assert datetime.fromisoformat(request["requested_datetime"]).utcoffset() == timedelta(hours=8)
    assert request["expected_datetime"] is None  # no deadline before triage
    assert (request["lat"], request["long"]) == (None, None)  # filed by address only: no point to give back


def test_status_follows_the_ticket_from_open_to_closed(client: TestClient, intake: Intake) -> None:
    request_id = post(client)[0]["service_request_id"]
    intake.triage.record_triage(request_id, decision("property_manager", sla_hours=48))
    routed = read(client, request_id)
    assert (routed["status"], routed["agency_responsible"]) == ("open", "物业服务企业")
    due = datetime.fromisoformat(routed["expected_datetime"])
    assert due - datetime.fromisoformat(routed["requested_datetime"]) == timedelta(hours=48)
    intake.flows.accept(request_id, WORKER)
    intake.flows.resolve(request_id, WORKER, resolution="电工已更换灯泡,联系电话13912345678")
    closed = read(client, request_id)
    assert closed["status"] == "closed"
    assert "已更换灯泡" in closed["status_notes"]
    assert "13912345678" not in closed["status_notes"]


def test_get_requests_filters_by_status_service_and_ids(client: TestClient, intake: Intake) -> None:
    light = post(client)[0]["service_request_id"]
    lift = post(client, service_code="lift_breakdown", description="5号楼电梯困人了")[0]["service_request_id"]
    intake.triage.record_triage(light, decision("property_manager"))
    intake.flows.accept(light, WORKER)
    intake.flows.resolve(light, WORKER, resolution="已修好")

    def ids(**params: str) -> list[str]:
        reply = client.get(f"{BASE}/requests.json", params={"api_key": API_KEY, **params})
        assert reply.status_code == 200, reply.text
        return [r["service_request_id"] for r in reply.json()]

    assert ids() == [lift, light]  # newest first
    assert ids(status="closed") == [light]
    assert ids(status="open") == [lift]
    assert ids(service_code="lift_breakdown") == [lift]
    # Ids override every other filter, as the spec says.
    assert ids(service_request_id=f"{light},{lift}", status="open") == [lift, light]
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert ids(start_date=tomorrow) == []


def test_json_body_and_community_attribute_are_accepted(client: TestClient) -> None:
    reply = client.post(
        f"{BASE}/requests.json",
        json={
            "api_key": API_KEY,
            "service_code": "lift_breakdown",
            "description": "电梯坏了三天",
            "lat": "31.23",
            "long": "121.47",
            "attribute": {"community": "梅林小区", "building": "7号楼"},
        },
    )
    assert reply.status_code == 201, reply.text
    request = read(client, reply.json()[0]["service_request_id"])
    assert request["address"] == "梅林小区7号楼"
    assert (request["lat"], request["long"]) == (31.23, 121.47)


def test_a_point_is_kept_and_read_back_by_id_and_in_listings(client: TestClient, intake: Intake) -> None:
    request_id = post(client, lat="31.2304", long=" -121.4737 ")[0]["service_request_id"]
    ticket = intake.flows.get(request_id).ticket
    assert (ticket.latitude, ticket.longitude) == (31.2304, -121.4737)
    assert (read(client, request_id)["lat"], read(client, request_id)["long"]) == (31.2304, -121.4737)
    listed = client.get(f"{BASE}/requests.json", params={"api_key": API_KEY, "service_request_id": request_id})
    assert [(r["lat"], r["long"]) for r in listed.json()] == [(31.2304, -121.4737)]


def test_the_callers_phone_becomes_the_tickets_callback_number(client: TestClient, intake: Intake) -> None:
    request_id = post(client, phone="+86 138 1234 5678")[0]["service_request_id"]
    assert intake.flows.get(request_id).ticket.contact_phone == "13812345678"
    landline = post(client, phone="021-62345678", description="电梯异响好几天了")[0]["service_request_id"]
    assert intake.flows.get(landline).ticket.contact_phone == "021-62345678"
    grouped = post(client, phone="138-1234-5678", description="楼道堆了很多杂物")[0]["service_request_id"]
    assert intake.flows.get(grouped).ticket.contact_phone == "13812345678"
    assert intake.flows.get(post(client, description="垃圾桶满了")[0]["service_request_id"]).ticket.contact_phone == ""


@pytest.mark.parametrize(
    ("change", "status", "problem"),
    [
        ({"api_key": ""}, 400, "api_key"),
        ({"api_key": "stolen"}, 403, "api_key"),
        ({"service_code": "no_such_service"}, 400, "service_code"),
        ({"description": ""}, 400, "description"),
        ({"description": "x"}, 400, "description"),
        ({"address_string": ""}, 400, "location"),
        ({"address_string": "某某小区"}, 400, "attribute[community]"),
        ({"lat": "north", "long": "121.4"}, 400, "lat"),
        ({"lat": "31.2"}, 400, "long"),  # half a point
        ({"long": "121.4"}, 400, "lat"),
        ({"lat": "nan", "long": "121.4"}, 400, "lat"),
        ({"lat": "31.2", "long": "180.5"}, 400, "long"),
        ({"phone": "12345"}, 400, "phone"),
    ],
)
def test_bad_posts_get_spec_errors(client: TestClient, change: dict[str, str], status: int, problem: str) -> None:
    reply = client.post(f"{BASE}/requests.json", data={**LIGHT, **change})
    assert reply.status_code == status
    errors = reply.json()
    assert all(set(e) == {"code", "description"} and e["code"] == status for e in errors)
    assert any(e["description"].startswith(problem) for e in errors), errors


def test_unknown_request_is_a_404_in_the_spec_shape(client: TestClient) -> None:
    reply = client.get(f"{BASE}/requests/missing.json", params={"api_key": API_KEY})
    assert reply.status_code == 404
    assert reply.json()[0]["code"] == 404


def test_bad_dates_and_status_are_400(client: TestClient) -> None:
    reply = client.get(
        f"{BASE}/requests.json", params={"api_key": API_KEY, "start_date": "last week", "status": "pending"}
    )
    assert reply.status_code == 400
    described = " ".join(e["description"] for e in reply.json())
    assert "start_date" in described
    assert "status" in described


@pytest.mark.parametrize(("params", "status"), [({}, 400), ({"api_key": "stolen"}, 403)])
def test_reading_requests_needs_an_issued_key(client: TestClient, params: dict[str, str], status: int) -> None:
    request_id = post(client)[0]["service_request_id"]
    for path in (f"{BASE}/requests.json", f"{BASE}/requests/{request_id}.json"):
        reply = client.get(path, params=params)
        assert reply.status_code == status, path
        assert reply.json()[0]["description"].startswith("api_key"), reply.json()
    assert client.get(f"{BASE}/services.json").status_code == 200  # the catalog stays public
