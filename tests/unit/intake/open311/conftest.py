"""Open311 test fixtures: a ticket store with its flows, and GeoReport clients with keys of three jurisdictions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from services.intake.database import Database
from services.intake.settings import IntakeSettings
from services.intake.web import mount_faces
from tests.unit.fakes import StepClock
from tests.unit.intake.fakes import Intake, face_services

BASE = "/open311/v2"
CITY_KEY = "city-app-key"  # a city platform: every community
HENGKANG_KEY = "hengkang-key"  # one community's app
PAIR_KEY = "pair-key"  # two communities
KEYS = {CITY_KEY: "city-app", HENGKANG_KEY: "hengkang-app", PAIR_KEY: "pair-app"}
JURISDICTIONS = {"hengkang-app": ["恒康居民区"], "pair-app": ["恒康居民区", "梅林小区"]}
LIGHT = {
    "service_code": "stairwell_light_broken",
    "description": "3号楼2单元楼道灯坏了一周",
    "address_string": "恒康居民区3号楼2单元",
}


@pytest.fixture
def intake(tmp_path: Path) -> Iterator[Intake]:
    """Flows over a migrated SQLite store, their clock an hour ago (within GET's default 90 days)."""
    database = Database(f"sqlite:///{tmp_path / 'tickets.sqlite'}")
    database.upgrade_schema()
    yield Intake(database, clock=StepClock(datetime.now(UTC) - timedelta(hours=1)))
    database.dispose()


@pytest.fixture
def georeport(intake: Intake) -> TestClient:
    """A client of the GeoReport routes, with the keys of KEYS and the jurisdictions of JURISDICTIONS."""
    app = FastAPI()
    settings = IntakeSettings(open311_api_keys=KEYS, open311_client_communities=JURISDICTIONS)
    mount_faces(app, face_services(intake.flows, intake.database, settings))
    return TestClient(app)


def filed(client: TestClient, key: str = CITY_KEY, **change: Any) -> str:
    """The id of a request `key` files (LIGHT, changed by `change`)."""
    reply = client.post(f"{BASE}/requests.json", data={"api_key": key, **LIGHT, **change})
    assert reply.status_code == 201, reply.text
    request_id: str = reply.json()[0]["service_request_id"]
    return request_id


def listed(client: TestClient, key: str = CITY_KEY, **params: str) -> list[dict[str, Any]]:
    """GET requests.json as `key` with `params`; asserts a 200."""
    reply = client.get(f"{BASE}/requests.json", params={"api_key": key, **params})
    assert reply.status_code == 200, reply.text
    body: list[dict[str, Any]] = reply.json()
    return body
