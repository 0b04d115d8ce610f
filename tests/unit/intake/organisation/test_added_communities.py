"""A community an admin adds through `/v1/org/communities` is served at once by every face that names communities:
hot topics, meeting items, instant answers and Open311's jurisdictions (not only ticket submissions), and one
deactivated stops being offered."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from services.intake.settings import IntakeSettings
from tests.tokens import as_resident, as_worker
from tests.unit.intake.organisation.harness import OrgApp, migrated, org_app

ADMIN = as_worker("admin-1", "street_office", role="admin")
EVERYWHERE = as_worker("w-so", "street_office")  # serves every community
CITY_KEY = "city-key"
NEW = "新泾苑"
OPEN311 = "/open311/v2"


@pytest.fixture
def org(tmp_path: Path) -> Iterator[OrgApp]:
    settings = IntakeSettings(open311_api_keys={CITY_KEY: "city-app"})
    with org_app(migrated(tmp_path), settings=settings) as built:
        yield built


def answers(client: TestClient, community: str) -> dict[str, int]:
    """The status each face answers for `community`."""
    resident = as_resident("r-1")
    light = {"service_code": "stairwell_light_broken", "description": "3号楼楼道灯坏了一周"}
    filed = {"api_key": CITY_KEY, **light, "attribute[community]": community, "address_string": "3号楼2单元"}
    definition = {"jurisdiction_id": community}
    return {
        "topics": client.get("/v1/topics", params={"community": community}, headers=EVERYWHERE).status_code,
        "meetings": client.get("/v1/meetings", params={"community": community}, headers=EVERYWHERE).status_code,
        "decisions": client.get("/v1/meetings/public", params={"community": community}, headers=resident).status_code,
        "answers": client.post(
            "/v1/answers", json={"text": "楼道灯坏了归谁管?", "community": community}, headers=resident
        ).status_code,
        "open311 definition": client.get(f"{OPEN311}/services/lift_breakdown.json", params=definition).status_code,
        "open311 request": client.post(f"{OPEN311}/requests.json", data=filed).status_code,
    }


def test_a_community_added_over_http_is_served_by_every_face(org: OrgApp) -> None:
    unknown = answers(org.client, NEW)
    assert unknown == {
        "topics": 422,
        "meetings": 422,
        "decisions": 422,
        "answers": 422,
        "open311 definition": 400,
        "open311 request": 403,  # outside every jurisdiction
    }, unknown

    added = org.client.post("/v1/org/communities", json={"name": NEW}, headers=ADMIN)
    assert added.status_code == 201, added.text

    served = answers(org.client, NEW)
    assert served == {
        "topics": 200,
        "meetings": 200,
        "decisions": 200,
        "answers": 200,
        "open311 definition": 200,
        "open311 request": 201,
    }, served
    definition = org.client.get(f"{OPEN311}/services/lift_breakdown.json").json()
    community = next(a for a in definition["attributes"] if a["code"] == "community")
    assert {"key": NEW, "name": NEW} in community["values"]
    assert {"key": "恒康居民区", "name": "恒康居民区"} in community["values"]  # the seeded ones stay


def test_a_community_of_the_setting_only_is_not_served_once_the_table_lacks_it(tmp_path: Path) -> None:
    # The table decides, not the setting: a process whose setting names a community the table does not hold (an
    # admin's row elsewhere, or a typo in one replica's environment) refuses it like any unknown one.
    settings = IntakeSettings(open311_api_keys={CITY_KEY: "city-app"}, known_communities=["恒康居民区", "幽灵小区"])
    with org_app(migrated(tmp_path), settings=settings) as org:
        refused = answers(org.client, "幽灵小区")
        assert set(refused.values()) <= {400, 403, 422}, refused
        assert answers(org.client, "恒康居民区")["topics"] == 200


def test_the_pickers_list_is_public_and_gains_a_community_an_admin_adds(org: OrgApp) -> None:
    listed = org.client.get("/v1/communities", headers={"Authorization": ""})  # no token: the H5 form lists them too
    assert listed.status_code == 200, listed.text
    assert listed.headers["cache-control"] == "public, max-age=300"
    configured = list(IntakeSettings().known_communities)
    assert listed.json() == {"communities": configured}  # in the setting's order, as the H5 form offers them

    assert org.client.post("/v1/org/communities", json={"name": NEW}, headers=ADMIN).status_code == 201
    assert org.client.get("/v1/communities").json() == {"communities": [*configured, NEW]}
