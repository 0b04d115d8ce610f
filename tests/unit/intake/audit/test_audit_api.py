"""GET /v1/audit: admins only, newest first, filtered and paged; odd or hostile parameters are 4xx, never 500."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from services.intake.audit.flows import AuditLog
from services.intake.audit.models import AuditAction
from tests.tokens import as_resident, as_worker, bearer
from tests.unit.intake.audit.conftest import Wall

ADMIN = as_worker("a-1", "street_office", role="admin")


def seed(audit: AuditLog, wall: Wall) -> None:
    """Seven events a minute apart from 08:00 UTC: three token issues, two exports, two data reads."""
    audit.record("operator:alice", AuditAction.TOKEN_ISSUED, "worker:w1", {"kind": "worker"})
    for actor, action in [
        ("worker:w1", AuditAction.EXPORT),
        ("operator:alice", AuditAction.TOKEN_ISSUED),
        ("worker:w2", AuditAction.PERSONAL_DATA_READ),
        ("worker:w1", AuditAction.EXPORT),
        ("operator:bob", AuditAction.TOKEN_ISSUED),
        ("worker:w2", AuditAction.PERSONAL_DATA_READ),
    ]:
        wall.advance(minutes=1)
        audit.record(actor, action, "s", {"rows": 3}, ip="10.0.0.9")


def test_admins_read_the_log_newest_first(client: TestClient, audit: AuditLog, wall: Wall) -> None:
    seed(audit, wall)
    page = client.get("/v1/audit", headers=ADMIN)
    assert page.status_code == 200, page.text
    events = page.json()["events"]
    assert [e["at"][11:16] for e in events] == ["08:06", "08:05", "08:04", "08:03", "08:02", "08:01", "08:00"]
    assert events[0] == {
        "id": events[0]["id"],
        "at": "2026-12-01T08:06:00Z",
        "actor": "worker:w2",
        "action": "personal_data_read",
        "subject": "s",
        "detail": {"rows": 3},
        "ip": "10.0.0.9",
    }
    assert page.json()["next_page_token"] == ""


def test_every_read_of_the_log_is_recorded_in_it(client: TestClient, audit: AuditLog, wall: Wall) -> None:
    seed(audit, wall)
    wall.advance(minutes=1)
    first = client.get("/v1/audit", params={"action": "export", "actor": "worker:w1"}, headers=ADMIN).json()
    assert len(first["events"]) == 2  # the page answered was read before its own read was recorded
    reads = client.get("/v1/audit", params={"action": "audit_log_read"}, headers=ADMIN).json()["events"]
    assert [(e["actor"], e["subject"]) for e in reads] == [("worker:a-1", "audit_log")]
    assert reads[0]["detail"] == {
        "action": "export",
        "actor": "worker:w1",
        "page_token": False,
        "since": "",
        "until": "",
        "events": 2,
    }
    # A refused reader reads nothing, so nothing is recorded for them.
    assert client.get("/v1/audit", headers=as_worker("w-1", "property_manager")).status_code == 403
    after = client.get("/v1/audit", params={"action": "audit_log_read"}, headers=ADMIN).json()["events"]
    assert [e["actor"] for e in after] == ["worker:a-1"] * 2  # the two reads above; this one shows in the next


@pytest.mark.parametrize(
    "headers",
    [
        as_worker("w-1", "property_manager"),
        as_worker("d-1", "street_office", role="dispatcher"),
        as_resident("openid-1"),
    ],
    ids=["worker", "dispatcher", "resident"],
)
def test_anyone_but_an_admin_is_refused(client: TestClient, headers: dict[str, str]) -> None:
    reply = client.get("/v1/audit", headers=headers)
    assert reply.status_code == 403
    assert reply.json()["error"]["code"] == "permission_denied"


def test_without_a_token_it_is_401(client: TestClient) -> None:
    assert client.get("/v1/audit").status_code == 401
    assert client.get("/v1/audit", headers=bearer("not-a-token")).status_code == 401


def test_filters_by_action_actor_and_time(client: TestClient, audit: AuditLog, wall: Wall) -> None:
    seed(audit, wall)

    def listed(**params: str) -> list[tuple[str, str, str]]:
        reply = client.get("/v1/audit", params=params, headers=ADMIN)
        assert reply.status_code == 200, reply.text
        return [(e["at"][11:16], e["actor"], e["action"]) for e in reply.json()["events"]]

    assert listed(action="export") == [("08:04", "worker:w1", "export"), ("08:01", "worker:w1", "export")]
    assert listed(actor="operator:alice") == [
        ("08:02", "operator:alice", "token_issued"),
        ("08:00", "operator:alice", "token_issued"),
    ]
    assert listed(action="token_issued", actor="operator:bob") == [("08:05", "operator:bob", "token_issued")]
    # since is inclusive, until exclusive; a time without a zone is UTC, one with a zone is converted.
    assert [at for at, _, _ in listed(since="2026-12-01T08:02:00", until="2026-12-01T16:04:00+08:00")] == [
        "08:03",
        "08:02",
    ]
    assert listed(actor="nobody") == []


def test_pages_follow_one_another_without_gaps_or_repeats(client: TestClient, audit: AuditLog, wall: Wall) -> None:
    seed(audit, wall)
    seen: list[str] = []
    token, pages = "", 0
    while True:
        reply = client.get("/v1/audit", params={"page_size": 3, "page_token": token}, headers=ADMIN).json()
        seen += [e["at"][11:16] for e in reply["events"]]
        pages += 1
        token = reply["next_page_token"]
        if not token:
            break
        wall.advance(minutes=1)
        audit.record("worker:w9", AuditAction.EXPORT)  # newer events do not shift the pages being read
    assert pages == 3
    assert seen == ["08:06", "08:05", "08:04", "08:03", "08:02", "08:01", "08:00"]


@pytest.mark.parametrize(
    "params",
    [
        {"action": "drop_tables"},
        {"action": "x" * 20_000},
        {"actor": "a" * 20_000},
        {"since": "yesterday"},
        {"since": "0001-01-01T00:00:00+01:00"},
        {"until": "9999-12-31T23:59:59-14:00"},
        {"since": "2026-13-45"},
        {"page_size": "0"},
        {"page_size": "100000"},
        {"page_size": "1e3"},
        {"page_token": "not-base64!!"},
        {"page_token": "bm90IGEgdG9rZW4="},
        {"page_token": "MjAyNi0xMi0wMVQwODowMDowMHxhYmM="},  # a naive time inside
        {"page_token": "x" * 20_000},
        {"since": "\x00"},
    ],
)
def test_odd_parameters_are_refused_not_500(client: TestClient, params: dict[str, str]) -> None:
    reply = client.get("/v1/audit", params=params, headers=ADMIN)
    assert 400 <= reply.status_code < 500, reply.text
    assert reply.json()["error"]["code"] in {"invalid_argument", "payload_too_large"}


@pytest.mark.parametrize("query", ["actor=%00%ED%A0%80", "page_token=%ED%A0%80", "since=%FF", "action=%C0%AF"])
def test_bytes_that_are_no_utf8_are_refused_not_500(client: TestClient, query: str) -> None:
    reply = client.get(f"/v1/audit?{query}", headers=ADMIN)
    assert reply.status_code in {200, 400, 422}, reply.text


@pytest.mark.parametrize(
    "params",
    [
        {"since": "0001-01-01T00:00:00Z"},
        {"until": "9999-12-31T23:59:59Z"},
        {"actor": "'; DROP TABLE audit_events; --"},
        {"actor": "工作人员"},
        {"since": "2026-12-01T08:00:00Z", "until": "2026-12-01T07:00:00Z"},
    ],
)
def test_odd_but_valid_parameters_answer_a_page(
    client: TestClient, audit: AuditLog, wall: Wall, params: dict[str, str]
) -> None:
    seed(audit, wall)
    reply = client.get("/v1/audit", params=params, headers=ADMIN)
    assert reply.status_code == 200, reply.text
    events = client.get("/v1/audit", params={"action": "token_issued"}, headers=ADMIN).json()["events"]
    assert len(events) == 3  # nothing dropped; the read itself is one more event, of its own action
