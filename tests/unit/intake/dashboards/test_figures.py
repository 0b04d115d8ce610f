"""The dashboard's figures over the HTTP API, against timelines worked out by hand, on SQLite and PostgreSQL (the
same tickets must give the same figures on both)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.intake.database import Database
from tests.tokens import as_worker
from tests.unit.intake.dashboards.timeline import (
    EXPECTED_HENGKANG,
    HENGKANG,
    MEILIN,
    NOW,
    StillClock,
    Timeline,
    http_client,
    known_week,
)
from tests.unit.intake.fakes import Intake

# Provides the `ticket_database` fixture (SQLite and PostgreSQL).
pytest_plugins = ["tests.unit.intake.database"]

ADMIN = as_worker("admin-1", "street_office", "", "admin")
HENGKANG_PROPERTY = as_worker("w-7", "property_manager", HENGKANG)
RATES = ("response", "resolution", "satisfaction", "on_time", "reopen", "transfer")


@pytest.fixture
def intake(ticket_database: Database) -> Intake:
    return Intake(ticket_database, clock=StillClock(NOW))


def read(intake: Intake, headers: dict[str, str], **params: str) -> Any:
    response = http_client(intake, lambda code: frozenset({HENGKANG, MEILIN}) if code == "S1" else frozenset()).get(
        "/v1/dashboards", params=params, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()


def figures_of(period: dict[str, Any]) -> dict[str, Any]:
    """A period's figures as EXPECTED_HENGKANG writes them; checks each rate is its numerator over denominator."""
    figures: dict[str, Any] = {"received": period["received"]}
    for rate in RATES:
        ratio = period[rate]
        assert ratio["rate"] == pytest.approx(ratio["numerator"] / ratio["denominator"])
        figures[rate] = (ratio["numerator"], ratio["denominator"])
    figures["median_accept_seconds"] = period["median_accept_seconds"]
    figures["median_resolve_seconds"] = period["median_resolve_seconds"]
    return figures


def test_a_communitys_week_counts_what_the_timelines_say(intake: Intake) -> None:
    known_week(intake)
    body = read(
        intake,
        HENGKANG_PROPERTY,
        scope=f"community:{HENGKANG}",
        period="week",
        **{"from": "2026-01-05", "to": "2026-01-11"},
    )
    assert (body["scope"], body["period"], body["accept_window_seconds"]) == (f"community:{HENGKANG}", "week", 7200)
    [week] = body["periods"]
    assert (week["start"], week["end"]) == ("2026-01-05", "2026-01-12")
    assert figures_of(week) == EXPECTED_HENGKANG


def test_a_street_counts_its_communities_and_a_party_only_its_tickets(intake: Intake) -> None:
    known_week(intake)
    dates = {"from": "2026-01-05", "to": "2026-01-11"}
    [street] = read(intake, ADMIN, scope="street:S1", **dates)["periods"]
    assert street["received"] == 8  # 恒康's seven and 梅林's G
    assert (street["response"]["numerator"], street["response"]["denominator"]) == (4, 7)  # G accepted at 5 h
    [owners] = read(intake, ADMIN, scope="all", party="owners_committee", **dates)["periods"]
    assert (owners["received"], owners["transfer"]["numerator"], owners["response"]["numerator"]) == (1, 1, 1)


def test_a_month_holds_the_weeks_and_empty_periods_count_zero(intake: Intake) -> None:
    known_week(intake)
    body = read(
        intake, ADMIN, scope=f"community:{HENGKANG}", period="month", **{"from": "2025-12-20", "to": "2026-02-02"}
    )
    assert [(p["start"], p["received"]) for p in body["periods"]] == [
        ("2025-12-01", 0),
        ("2026-01-01", 7),
        ("2026-02-01", 0),
    ]
    assert figures_of(body["periods"][1]) == EXPECTED_HENGKANG
    empty = body["periods"][0]
    assert empty["response"] == {"numerator": 0, "denominator": 0, "rate": None}
    assert empty["median_accept_seconds"] is None


@pytest.mark.parametrize(
    ("received_utc", "week", "month"),
    [
        (datetime(2026, 1, 11, 15, 30, tzinfo=UTC), "2026-01-05", "2026-01-01"),  # Sunday 23:30 Shanghai
        (datetime(2026, 1, 11, 16, 10, tzinfo=UTC), "2026-01-12", "2026-01-01"),  # Monday 00:10 Shanghai
        (datetime(2026, 1, 31, 15, 30, tzinfo=UTC), "2026-01-26", "2026-01-01"),  # Saturday 31 Jan 23:30
        (datetime(2026, 1, 31, 16, 10, tzinfo=UTC), "2026-01-26", "2026-02-01"),  # Sunday 1 Feb 00:10
    ],
)
def test_weeks_and_months_turn_at_shanghai_midnight(
    intake: Intake, received_utc: datetime, week: str, month: str
) -> None:
    Timeline(intake).routed(received_utc)
    dates = {"from": "2026-01-01", "to": "2026-02-28"}
    for period, expected in (("week", week), ("month", month)):
        body = read(intake, ADMIN, scope="all", period=period, **dates)
        assert [p["start"] for p in body["periods"] if p["received"]] == [expected]
