"""The organisation over HTTP: admins list and add streets, communities and workers (everyone else 403); a worker
lists their colleagues; a community added by an admin takes tickets at once; and a street office worker sees every
community of their street, and nothing of another street's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services.intake.auth.tokens import issue_token
from services.intake.tickets.validation import Submission
from tests.tokens import TEST_TTL, as_resident, as_worker, bearer, environment_codec
from tests.unit.intake.fakes import decision
from tests.unit.intake.organisation.harness import OrgApp, migrated, org_app

ADMIN = as_worker("admin-1", "street_office", role="admin")


@pytest.fixture
def org(tmp_path: Path) -> Iterator[OrgApp]:
    with org_app(migrated(tmp_path)) as built:
        yield built


def street_worker(worker_id: str, street: str, party: str = "street_office") -> dict[str, str]:
    """Headers of a street office worker, as `linli token issue --street` would sign them."""
    token, _ = issue_token("worker", worker_id, party=party, street=street, ttl=TEST_TTL, codec=environment_codec())
    return bearer(token)


def test_admins_build_the_organisation(org: OrgApp) -> None:
    client = org.client
    street = client.post("/v1/org/streets", json={"code": "beixinjing", "name": "北新泾街道"}, headers=ADMIN)
    assert street.status_code == 201, street.text
    assert street.json() == {"code": "beixinjing", "name": "北新泾街道"}
    community = client.post("/v1/org/communities", json={"name": "新泾苑", "street": "beixinjing"}, headers=ADMIN)
    assert community.status_code == 201, community.text
    moved = client.post("/v1/org/communities", json={"name": "金桥新村", "street": "beixinjing"}, headers=ADMIN)
    assert moved.json() == {"name": "金桥新村", "street": "beixinjing", "active": True}
    body = {"worker_id": "w-21", "party": "street_office", "street": "beixinjing", "wecom_userid": "lisi"}
    worker = client.post("/v1/org/workers", json=body | {"display_name": "李四"}, headers=ADMIN)
    assert worker.status_code == 201, worker.text
    assert worker.json()["street"] == "beixinjing"
    assert worker.json()["active"] is True

    listed = {c["name"]: c["street"] for c in client.get("/v1/org/communities", headers=ADMIN).json()}
    assert listed["新泾苑"] == listed["金桥新村"] == "beixinjing"
    assert listed["梅林小区"] == ""  # seeded from the setting, on no street
    assert client.get("/v1/org/streets", headers=ADMIN).json() == [{"code": "beixinjing", "name": "北新泾街道"}]
    assert [w["worker_id"] for w in client.get("/v1/org/workers", headers=ADMIN).json()] == ["w-21"]


def test_only_admins_may_read_or_change_it(org: OrgApp) -> None:
    client = org.client
    for headers in (as_worker("w-1", "street_office"), as_worker("d-1", "street_office", role="dispatcher")):
        for path in ("/v1/org/streets", "/v1/org/communities", "/v1/org/workers"):
            refused = client.get(path, headers=headers)
            assert refused.status_code == 403, path
            assert "管理员" in refused.json()["error"]["message"]
        posted = client.post("/v1/org/streets", json={"code": "x", "name": "某街道"}, headers=headers)
        assert posted.status_code == 403
    assert client.get("/v1/org/streets", headers=as_resident("r-1")).status_code == 403
    assert client.get("/v1/org/streets").status_code == 401
    assert client.get("/v1/org/colleagues", headers=as_resident("r-1")).status_code == 403


def test_bad_input_is_refused_with_the_field_at_fault(org: OrgApp) -> None:
    client = org.client
    cases = [
        ("/v1/org/streets", {"code": "有空格 的代码", "name": "某街道"}, 422, "code"),
        ("/v1/org/streets", {"code": "ok", "name": "   "}, 422, "name"),
        ("/v1/org/streets", {"code": "ok", "name": "某街道", "extra": 1}, 422, "extra"),
        ("/v1/org/communities", {"name": "新社区", "street": "nowhere"}, 422, "street"),
        ("/v1/org/workers", {"worker_id": "w-1", "party": "nobody"}, 422, "party"),
        ("/v1/org/workers", {"worker_id": "w-1", "party": "street_office", "community": "火星小区"}, 422, "community"),
        ("/v1/org/workers", {"worker_id": "w-1", "party": "street_office", "role": "root"}, 422, "role"),
    ]
    for path, body, status, field in cases:
        reply = client.post(path, json=body, headers=ADMIN)
        assert reply.status_code == status, (body, reply.text)
        assert reply.json()["error"]["fields"][0]["field"] == field, body
    broken = client.post("/v1/org/streets", content=b"{not json", headers=ADMIN | {"Content-Type": "application/json"})
    assert broken.status_code == 400
    assert client.post("/v1/org/workers", json={"worker_id": "w-1", "party": "street_office"}, headers=ADMIN).is_success
    again = client.post("/v1/org/workers", json={"worker_id": "w-1", "party": "street_office"}, headers=ADMIN)
    assert again.status_code == 409


def test_a_community_added_by_an_admin_takes_tickets_at_once(org: OrgApp) -> None:
    resident = as_resident("r-1")
    complaint = {"text": "楼道灯坏了一个星期了", "community": "新建小区"}
    refused = org.client.post("/v1/tickets", json=complaint, headers=resident)
    assert refused.status_code == 422
    assert refused.json()["error"]["fields"][0]["field"] == "community"
    assert '<option value="新建小区">' not in org.client.get("/h5/").text
    assert org.client.post("/v1/org/communities", json={"name": "新建小区"}, headers=ADMIN).status_code == 201
    options = org.client.get("/h5/").text
    assert '<option value="新建小区">' in options  # the residents' form offers it, after the configured ones
    assert options.index('<option value="金桥新村">') < options.index('<option value="新建小区">')
    accepted = org.client.post("/v1/tickets", json=complaint, headers=resident)
    assert accepted.status_code == 201, accepted.text


def test_colleagues_are_the_active_workers_of_my_party_over_my_communities(org: OrgApp) -> None:
    flows = org.organisation
    flows.add_street("s1", "一号街道")
    flows.add_community("金桥新村", "s1")
    flows.add_community("梅林小区", "s1")
    for worker_id, party, scope in [
        ("w-jq", "property_manager", {"community": "金桥新村"}),
        ("w-ml", "property_manager", {"community": "梅林小区"}),
        ("w-s1", "property_manager", {"street": "s1"}),
        ("w-all", "property_manager", {}),
        ("w-other", "property_manager", {"community": "翠湖苑"}),
        ("w-gone", "property_manager", {"community": "金桥新村"}),
        ("w-owners", "owners_committee", {"community": "金桥新村"}),
    ]:
        reply = org.client.post(
            "/v1/org/workers", json={"worker_id": worker_id, "party": party, **scope}, headers=ADMIN
        )
        assert reply.status_code == 201, reply.text
    flows.deactivate_worker("w-gone", actor="admin:test")

    def colleagues(headers: dict[str, str]) -> list[str]:
        reply = org.client.get("/v1/org/colleagues", headers=headers)
        assert reply.status_code == 200, reply.text
        return [c["worker_id"] for c in reply.json()]

    assert colleagues(as_worker("w-jq", "property_manager", "金桥新村")) == ["w-all", "w-s1"]
    assert colleagues(street_worker("w-s1", "s1", party="property_manager")) == ["w-all", "w-jq", "w-ml"]
    assert colleagues(as_worker("w-all", "property_manager")) == ["w-jq", "w-ml", "w-other", "w-s1"]


def test_a_street_worker_sees_every_community_of_the_street_and_no_other(org: OrgApp) -> None:
    flows = org.organisation
    flows.add_street("s1", "一号街道")
    flows.add_street("s2", "二号街道")
    flows.add_community("金桥新村", "s1")
    flows.add_community("梅林小区", "s1")
    flows.add_community("翠湖苑", "s2")
    tickets = {}
    for community in ("金桥新村", "梅林小区", "翠湖苑"):
        view, _ = org.intake.flows.submit(Submission(text="路灯不亮了", community=community, resident_id="r-9"))
        org.intake.triage.record_triage(view.ticket.id, decision("street_office"))
        tickets[community] = view.ticket.id
    headers = street_worker("w-s1", "s1")

    me = org.client.get("/v1/workers/me", headers=headers).json()
    assert (me["street"], me["communities"]) == ("s1", ["梅林小区", "金桥新村"])
    listed = org.client.get("/v1/tickets", headers=headers)
    assert listed.status_code == 200, listed.text
    assert {t["community"] for t in listed.json()["tickets"]} == {"金桥新村", "梅林小区"}
    assert org.client.get(f"/v1/tickets/{tickets['金桥新村']}", headers=headers).status_code == 200
    assert org.client.get(f"/v1/tickets/{tickets['翠湖苑']}", headers=headers).status_code == 404
    assert org.client.get("/v1/tickets", params={"community": "翠湖苑"}, headers=headers).status_code == 403
    accepted = org.client.post(f"/v1/tickets/{tickets['梅林小区']}/accept", json={}, headers=headers)
    assert accepted.status_code == 200, accepted.text

    # The street gains a community: the same token serves it at once (resolved when the token is read).
    org.client.post("/v1/org/communities", json={"name": "翠湖苑", "street": "s1"}, headers=ADMIN)
    assert org.client.get(f"/v1/tickets/{tickets['翠湖苑']}", headers=headers).status_code == 200
    # A street nobody has: the worker serves no community rather than every one.
    nowhere = org.client.get("/v1/tickets", headers=street_worker("w-x", "no-such-street")).json()
    assert nowhere["tickets"] == []
