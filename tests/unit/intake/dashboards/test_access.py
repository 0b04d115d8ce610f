"""Who may read which dashboard, and hostile parameters: each refused with the API's error, nothing computed."""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient

from linli.errors import NotFound, PermissionDenied
from services.intake.auth import Worker
from services.intake.dashboards.flows import DashboardFlows
from services.intake.dashboards.models import PeriodKind
from services.intake.database import Database
from tests.tokens import as_resident, as_worker
from tests.unit.intake.dashboards.timeline import HENGKANG, MEILIN, NOW, StillClock, http_client, known_week
from tests.unit.intake.fakes import Intake

pytest_plugins = ["tests.unit.intake.database"]

WEEK = {"from": "2026-01-05", "to": "2026-01-11"}
STREET_COMMUNITIES = frozenset({HENGKANG, MEILIN})


def streets(code: str) -> frozenset[str]:
    return STREET_COMMUNITIES if code == "S1" else frozenset()


@pytest.fixture
def intake(sqlite_ticket_database: Database) -> Intake:
    return Intake(sqlite_ticket_database, clock=StillClock(NOW))


@pytest.fixture
def client(intake: Intake) -> TestClient:
    return http_client(intake, streets)


@pytest.mark.parametrize(
    ("headers", "scope", "status"),
    [
        (as_worker("w-9", "property_manager", MEILIN), f"community:{HENGKANG}", 403),  # another community
        (as_worker("w-9", "property_manager", MEILIN), "all", 403),
        (as_worker("w-9", "property_manager", MEILIN), "street:S1", 403),  # a street holding 恒康 too
        (as_resident("r-1"), f"community:{HENGKANG}", 403),
        (as_worker("a-1", "street_office", "", "admin"), "street:S9", 404),  # no known communities
        ({}, "all", 401),
    ],
)
def test_who_may_not_read_a_dashboard(client: TestClient, headers: dict[str, str], scope: str, status: int) -> None:
    response = client.get("/v1/dashboards", params={"scope": scope, **WEEK}, headers=headers)
    assert response.status_code == status, response.text
    assert "periods" not in response.json()


def test_a_community_worker_reads_their_own_community(client: TestClient, intake: Intake) -> None:
    known_week(intake)
    headers = as_worker("w-9", "property_manager", MEILIN)
    response = client.get("/v1/dashboards", params={"scope": f"community:{MEILIN}", **WEEK}, headers=headers)
    assert response.status_code == 200
    assert [p["received"] for p in response.json()["periods"]] == [1]


def test_a_street_worker_reads_their_street_but_not_another(intake: Intake) -> None:
    known_week(intake)
    flows = DashboardFlows(intake.database, streets, clock=intake.clock)
    street_worker = Worker("s-1", "street_office", street="S1", street_communities=STREET_COMMUNITIES)
    day = date(2026, 1, 5)
    read = flows.dashboard(street_worker, "street:S1", party="", kind=PeriodKind.WEEK, first=day, last=day)
    assert read.series[0].received == 8
    own = flows.dashboard(street_worker, f"community:{MEILIN}", party="", kind=PeriodKind.WEEK, first=day, last=day)
    assert own.series[0].received == 1
    with pytest.raises(PermissionDenied):
        flows.dashboard(street_worker, "all", party="", kind=PeriodKind.WEEK, first=day, last=day)
    with pytest.raises(NotFound):
        flows.dashboard(street_worker, "street:S2", party="", kind=PeriodKind.WEEK, first=day, last=day)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-01-11", "to": "2026-01-05"}, "from"),  # from after to
        ({"from": "2016-01-01", "to": "2026-01-01"}, "to"),  # ten years
        ({"from": "2026-02-30", "to": "2026-03-01"}, "from"),  # no such day
        ({"from": "yesterday", "to": "2026-03-01"}, "from"),
        ({"from": "2026-01-05"}, "to"),  # missing
        ({**WEEK, "period": "day"}, "period"),
        ({**WEEK, "scope": "city:上海"}, "scope"),
        ({**WEEK, "scope": "community:"}, "scope"),
        ({**WEEK, "scope": "community:" + "楼" * 200}, "scope"),
    ],
)
def test_hostile_parameters_are_refused_naming_the_field(
    client: TestClient, params: dict[str, str], field: str
) -> None:
    admin = as_worker("a-1", "street_office", "", "admin")
    for path in ("/v1/dashboards", "/v1/dashboards/export.csv", "/v1/dashboards/export.xlsx"):
        response = client.get(path, params=params, headers=admin)
        assert response.status_code == 422, (path, response.text)
        assert response.json()["error"]["fields"][0]["field"] == field


def test_a_year_of_weeks_is_allowed(client: TestClient) -> None:
    admin = as_worker("a-1", "street_office", "", "admin")
    response = client.get("/v1/dashboards", params={"from": "2025-01-01", "to": "2026-01-01"}, headers=admin)
    assert response.status_code == 200
    assert len(response.json()["periods"]) == 53
