"""Assignment to a colleague, saved views and bulk actions, through the real HTTP app."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.tokens import as_resident, as_worker
from tests.unit.intake.fakes import Intake
from tests.unit.intake.inbox.rows import (
    DISPATCHER,
    MEILIN,
    PM_COLLEAGUE,
    PM_MEILIN,
    SO,
    all_pages,
    insert_rows,
    ticket_row,
)

pytest_plugins = ["tests.unit.intake.database"]


@pytest.fixture
def tickets(intake: Intake, client: TestClient) -> None:
    """Five routed tickets of the property manager in 恒康 (a..e), one in 梅林, one of the street office, one resolved;
    w-8 (property manager, 恒康) and w-2 (street office) have each accepted one, so their history makes them known."""
    rows = [ticket_row(name) for name in "abcde"]
    rows += [
        ticket_row("meilin", community=MEILIN),
        ticket_row("so", party="street_office"),
        ticket_row("done", status="resolved"),
    ]
    insert_rows(intake.database, rows)
    assert client.post("/v1/tickets/e/accept", headers=PM_COLLEAGUE).status_code == 200
    assert client.post("/v1/tickets/so/accept", headers=SO).status_code == 200


def assign(client: TestClient, ticket_id: str, assignee: str, **body: str) -> tuple[int, dict[str, object]]:
    reply = client.post(f"/v1/tickets/{ticket_id}/assign", json={"assignee_worker_id": assignee, **body})
    return reply.status_code, reply.json()


@pytest.mark.usefixtures("tickets")
def test_a_ticket_goes_to_a_colleague_and_into_their_mine_set(client: TestClient) -> None:
    status, body = assign(client, "a", "w-8", reason="他负责3号楼")
    assert status == 200, body
    assert body["assignee_worker_id"] == "w-8"
    events = body["events"]
    assert isinstance(events, list)
    assert (events[-1]["kind"], events[-1]["actor"], events[-1]["note"]) == (
        "assigned",
        "worker:w-7",
        "指派给 w-8:他负责3号楼",
    )
    colleague = TestClient(client.app, headers=PM_COLLEAGUE)
    assert all_pages(colleague, set="mine") == ["a", "e"]  # the same deadline: by id
    assert "a" not in all_pages(client, set="unassigned")
    # Taken back: nobody's again.
    status, body = assign(client, "a", "")
    assert (status, body["assignee_worker_id"]) == (200, "")
    assert all_pages(colleague, set="mine") == ["e"]


@pytest.mark.usefixtures("tickets")
@pytest.mark.parametrize(
    ("ticket_id", "assignee", "status"),
    [
        ("a", "w-2", 422),  # the street office's worker: another party
        ("a", "w-404", 422),  # nobody known
        ("meilin", "w-8", 404),  # w-7 does not serve 梅林: as if it did not exist
        ("so", "w-8", 404),  # another party's ticket
        ("done", "w-8", 409),  # no longer open
        ("nope", "w-8", 404),
        ("a", "w-8\u0000", 422),
    ],
)
def test_assignment_rules(client: TestClient, ticket_id: str, assignee: str, status: int) -> None:
    code, body = assign(client, ticket_id, assignee)
    assert code == status, body


@pytest.mark.usefixtures("tickets")
def test_a_colleague_of_another_community_or_a_resident_cannot_assign(client: TestClient) -> None:
    assert client.post("/v1/tickets/a/assign", json={"assignee_worker_id": "w-8"}, headers=PM_MEILIN).status_code == 404
    resident = client.post("/v1/tickets/a/assign", json={"assignee_worker_id": "w-8"}, headers=as_resident("r-a"))
    assert resident.status_code == 403
    assert client.post("/v1/tickets/a/assign", json={"assignee_worker_id": 8}).status_code == 422


@pytest.mark.usefixtures("tickets")
def test_a_colleague_known_only_in_another_community_is_refused(client: TestClient, intake: Intake) -> None:
    insert_rows(intake.database, [ticket_row("m2", community=MEILIN)])
    assert (
        client.post("/v1/tickets/m2/accept", headers=as_worker("w-10", "property_manager", MEILIN)).status_code == 200
    )
    assert assign(client, "a", "w-10")[0] == 422


def test_saved_views_are_each_workers_own(client: TestClient) -> None:
    saved = client.post(
        "/v1/inbox/views",
        json={"name": " 我的超时 ", "set": "overdue", "sort": "priority", "filters": {"urgency": "urgent"}},
    )
    assert saved.status_code == 201, saved.text
    view = saved.json()
    assert (view["name"], view["set"], view["sort"], view["filters"]) == (
        "我的超时",
        "overdue",
        "priority",
        {"urgency": "urgent"},
    )
    assert [v["id"] for v in client.get("/v1/inbox/views").json()["views"]] == [view["id"]]
    colleague = TestClient(client.app, headers=PM_COLLEAGUE)
    assert colleague.get("/v1/inbox/views").json()["views"] == []
    assert colleague.delete(f"/v1/inbox/views/{view['id']}").status_code == 404
    assert client.delete(f"/v1/inbox/views/{view['id']}").status_code == 204
    assert client.get("/v1/inbox/views").json()["views"] == []
    assert client.delete(f"/v1/inbox/views/{view['id']}").status_code == 404
    assert client.get("/v1/inbox/views", headers=as_resident("r-1")).status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        {"name": ""},
        {"name": "   "},
        {"name": "长" * 41},
        {"name": "a\u0007b"},
        {"name": "ok", "set": "everything"},
        {"name": "ok", "sort": "random"},
        {"name": "ok", "filters": {"colour": "red"}},
        {"name": "ok", "extra": 1},
        {"name": 5},
    ],
)
def test_bad_views_are_refused(client: TestClient, body: dict[str, object]) -> None:
    reply = client.post("/v1/inbox/views", json=body)
    assert reply.status_code == 422, reply.text
    assert client.get("/v1/inbox/views").json()["views"] == []


def test_at_most_fifty_views(client: TestClient) -> None:
    for number in range(50):
        assert client.post("/v1/inbox/views", json={"name": f"视图{number}"}).status_code == 201
    assert client.post("/v1/inbox/views", json={"name": "第五十一个"}).status_code == 409
    assert len(client.get("/v1/inbox/views").json()["views"]) == 50
    # Another worker's quota is their own.
    assert TestClient(client.app, headers=PM_COLLEAGUE).post("/v1/inbox/views", json={"name": "x"}).status_code == 201


def results(reply_json: dict[str, object]) -> dict[str, tuple[bool, str, str]]:
    listed = reply_json["results"]
    assert isinstance(listed, list)
    return {r["ticket_id"]: (r["ok"], r["status"], r["error_code"]) for r in listed}


@pytest.mark.usefixtures("tickets")
def test_bulk_accept_reports_the_refused_and_does_the_others(client: TestClient) -> None:
    reply = client.post("/v1/tickets/bulk", json={"action": "accept", "ticket_ids": ["a", "done", "b", "so", "nope"]})
    assert reply.status_code == 200, reply.text
    assert results(reply.json()) == {
        "a": (True, "accepted", ""),
        "done": (False, "", "failed_precondition"),
        "b": (True, "accepted", ""),
        "so": (False, "", "not_found"),
        "nope": (False, "", "not_found"),
    }
    assert (reply.json()["succeeded"], reply.json()["failed"]) == (2, 3)
    assert client.get("/v1/tickets/a").json()["status"] == "accepted"


@pytest.mark.usefixtures("tickets")
def test_bulk_transfer_and_close_with_one_reason(client: TestClient) -> None:
    client.post("/v1/tickets/bulk", json={"action": "accept", "ticket_ids": ["a", "b"]})
    closed = client.post("/v1/tickets/bulk", json={"action": "close", "ticket_ids": ["a", "c"], "reason": "已统一维修"})
    assert results(closed.json()) == {"a": (True, "resolved", ""), "c": (False, "", "failed_precondition")}
    assert client.get("/v1/tickets/a").json()["resolution"] == "已统一维修"
    body = {
        "action": "transfer",
        "ticket_ids": ["b", "c", "done"],
        "reason": "路灯归街道管",
        "to_party": "street_office",
    }
    moved = client.post("/v1/tickets/bulk", json=body)
    assert results(moved.json()) == {
        "b": (True, "transferred", ""),
        "c": (True, "transferred", ""),
        "done": (False, "", "failed_precondition"),
    }
    assert client.get("/v1/tickets/c", headers=SO).json()["events"][-1]["note"] == "路灯归街道管"
    assert client.get("/v1/tickets/c").status_code == 404  # the street office's now
    same = client.post("/v1/tickets/bulk", json={**body, "ticket_ids": ["d"], "to_party": "property_manager"})
    assert results(same.json()) == {"d": (False, "", "invalid_argument")}
    assert client.get("/v1/tickets/d").json()["status"] == "routed"


@pytest.mark.usefixtures("tickets")
@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"action": "accept", "ticket_ids": [f"t{n}" for n in range(101)]}, 422),
        ({"action": "accept", "ticket_ids": []}, 422),
        ({"action": "accept", "ticket_ids": ["a", "b", "a"]}, 400),
        ({"action": "close", "ticket_ids": ["a"]}, 422),  # no reason
        ({"action": "transfer", "ticket_ids": ["a"], "reason": "不归我们"}, 422),  # nowhere to
        ({"action": "delete", "ticket_ids": ["a"]}, 422),
        ({"action": "accept", "ticket_ids": ["x" * 65]}, 422),
        ({"action": "accept", "ticket_ids": "a"}, 422),
    ],
)
def test_bad_bulk_requests_change_nothing(client: TestClient, body: dict[str, object], status: int) -> None:
    reply = client.post("/v1/tickets/bulk", json=body)
    assert reply.status_code == status, reply.text
    assert client.get("/v1/tickets/a").json()["status"] == "routed"


@pytest.mark.usefixtures("tickets")
def test_a_resident_cannot_bulk_and_a_dispatcher_claims_only_visible_tickets(client: TestClient) -> None:
    assert (
        client.post(
            "/v1/tickets/bulk", json={"action": "accept", "ticket_ids": ["a"]}, headers=as_resident("r-a")
        ).status_code
        == 403
    )
    reply = client.post("/v1/tickets/bulk", json={"action": "accept", "ticket_ids": ["a"]}, headers=DISPATCHER)
    assert results(reply.json()) == {"a": (False, "", "not_found")}
