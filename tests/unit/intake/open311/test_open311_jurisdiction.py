"""Open311 keys act in their jurisdiction: where a request without a community goes, what a key may read, what it
sees of others' requests, and the spec's limits (4,000 characters, 90 days, pages)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from tests.unit.intake.fakes import Intake
from tests.unit.intake.open311.conftest import BASE, CITY_KEY, HENGKANG_KEY, LIGHT, PAIR_KEY, filed, listed

POINT_ONLY = {"service_code": "lift_breakdown", "description": "电梯困人了", "lat": "31.230416", "long": "121.473701"}


def refused(client: TestClient, key: str, **fields: str) -> tuple[int, list[str]]:
    reply = client.post(f"{BASE}/requests.json", data={"api_key": key, **fields})
    assert reply.status_code >= 400, reply.text
    return reply.status_code, [error["description"] for error in reply.json()]


def test_a_point_only_request_goes_to_the_keys_only_community(georeport: TestClient, intake: Intake) -> None:
    request_id = filed(georeport, HENGKANG_KEY, **POINT_ONLY, address_string="")
    assert intake.flows.get(request_id).ticket.community == "恒康居民区"


def test_a_point_only_request_goes_to_the_jurisdiction_id(georeport: TestClient, intake: Intake) -> None:
    request_id = filed(georeport, PAIR_KEY, **POINT_ONLY, address_string="", jurisdiction_id="梅林小区")
    assert intake.flows.get(request_id).ticket.community == "梅林小区"


def test_a_point_only_request_of_a_wider_key_must_name_its_community(georeport: TestClient) -> None:
    status, problems = refused(georeport, PAIR_KEY, **POINT_ONLY)
    assert status == 400
    assert any(problem.startswith("attribute[community]: is required") for problem in problems), problems
    # The service definition publishes the attribute as required for such a key's jurisdiction.
    definition = georeport.get(f"{BASE}/services/lift_breakdown.json").json()
    community = next(a for a in definition["attributes"] if a["code"] == "community")
    assert community["required"] is True
    assert {"key": "梅林小区", "name": "梅林小区"} in community["values"]
    one = georeport.get(f"{BASE}/services/lift_breakdown.json", params={"jurisdiction_id": "恒康居民区"}).json()
    assert next(a for a in one["attributes"] if a["code"] == "community")["required"] is False


def test_filing_outside_the_jurisdiction_is_403(georeport: TestClient) -> None:
    status, problems = refused(georeport, HENGKANG_KEY, **LIGHT, **{"attribute[community]": "梅林小区"})
    assert status == 403
    assert problems[0].startswith("attribute[community]")
    status, problems = refused(georeport, HENGKANG_KEY, **LIGHT, jurisdiction_id="梅林小区")
    assert (status, problems[0].split(":")[0]) == (403, "jurisdiction_id")


def test_a_key_reads_only_its_jurisdiction(georeport: TestClient) -> None:
    hengkang = filed(georeport)
    meilin = filed(georeport, address_string="梅林小区5号楼")
    assert [r["service_request_id"] for r in listed(georeport, HENGKANG_KEY)] == [hengkang]
    assert [r["service_request_id"] for r in listed(georeport, PAIR_KEY)] == [meilin, hengkang]
    assert [r["service_request_id"] for r in listed(georeport, PAIR_KEY, jurisdiction_id="梅林小区")] == [meilin]
    assert listed(georeport, HENGKANG_KEY, service_request_id=f"{hengkang},{meilin}")[0]["service_request_id"] == (
        hengkang
    )
    assert len(listed(georeport, HENGKANG_KEY, service_request_id=f"{hengkang},{meilin}")) == 1
    reply = georeport.get(f"{BASE}/requests/{meilin}.json", params={"api_key": HENGKANG_KEY})
    assert reply.status_code == 404  # as if it did not exist


def test_others_see_a_rounded_point_and_no_photo(georeport: TestClient) -> None:
    request_id = filed(georeport, HENGKANG_KEY, **POINT_ONLY, media_url="https://img.example.cn/lift.jpg")
    own = listed(georeport, HENGKANG_KEY)[0]
    assert (own["lat"], own["long"], own["media_url"]) == (31.230416, 121.473701, "https://img.example.cn/lift.jpg")
    other = listed(georeport, CITY_KEY, service_request_id=request_id)[0]
    assert (other["lat"], other["long"], other["media_url"]) == (31.23, 121.474, None)


def test_descriptions_may_have_the_specs_4000_characters(georeport: TestClient, intake: Intake) -> None:
    text = "楼道灯坏了" * 800
    request_id = filed(georeport, description=text)
    assert intake.flows.get(request_id).ticket.text.endswith(text)
    status, problems = refused(georeport, CITY_KEY, **{**LIGHT, "description": text + "!"})
    assert status == 400
    assert problems == ["description: must have at most 4000 characters, got 4001"]


@pytest.mark.parametrize(
    ("start_days_ago", "end_days_ago", "problem"),
    [(100, 0, "at most 90 days"), (91, None, None), (5, 10, "must not be before")],
)
def test_a_range_spans_at_most_90_days(
    georeport: TestClient, start_days_ago: int, end_days_ago: int | None, problem: str | None
) -> None:
    now = datetime.now(UTC)
    params = {"api_key": CITY_KEY, "start_date": (now - timedelta(days=start_days_ago)).isoformat()}
    if end_days_ago is not None:
        params["end_date"] = (now - timedelta(days=end_days_ago)).isoformat()
    reply = georeport.get(f"{BASE}/requests.json", params=params)
    if problem is None:  # a start alone: the 90 days after it
        assert reply.status_code == 200, reply.text
        return
    assert reply.status_code == 400
    assert problem in reply.json()[0]["description"]
    assert reply.json()[0]["description"].startswith("end_date")


def test_requests_come_in_pages(georeport: TestClient) -> None:
    ids = [filed(georeport) for _ in range(5)][::-1]  # newest first
    pages = [listed(georeport, page=str(n), page_size="2") for n in (1, 2, 3, 4)]
    assert [[r["service_request_id"] for r in page] for page in pages] == [ids[:2], ids[2:4], ids[4:], []]
    for bad in ({"page": "0"}, {"page_size": "1001"}, {"page_size": "many"}):
        reply = georeport.get(f"{BASE}/requests.json", params={"api_key": CITY_KEY, **bad})
        assert reply.status_code == 400, bad
        assert reply.json()[0]["description"].startswith(next(iter(bad)))
