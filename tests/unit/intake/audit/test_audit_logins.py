"""Residents' logins over HTTP land in the audit log: who (by pseudonym), how, when and from where; refused ones
without the phone number or the code."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from services.intake.audit.flows import AuditLog
from services.intake.auth.phones import PhoneIds
from services.intake.database import Database
from tests.unit.intake.audit.conftest import Wall, stored_events, table_text
from tests.unit.intake.auth.test_sms_login import RecordingProvider

PHONE = "13812345678"


def test_an_sms_login_is_recorded_by_pseudonym_with_the_address_and_time(
    client: TestClient, database: Database, audit: AuditLog, provider: RecordingProvider, wall: Wall
) -> None:
    assert client.post("/v1/auth/sms/code", json={"phone": PHONE}).status_code == 200
    logged_in = client.post("/v1/auth/sms/login", json={"phone": PHONE, "code": provider.last_code()})
    assert logged_in.status_code == 200, logged_in.text
    resident_id = PhoneIds(b"p" * 32).resident_id(PHONE)
    [event] = stored_events(database)
    assert (event.action, event.actor, event.subject) == (
        "login_sms",
        audit.pseudonyms.resident(resident_id),
        audit.pseudonyms.resident(resident_id),
    )
    assert (event.at, event.ip, json.loads(event.detail)) == (wall.now, "testclient", {"method": "sms"})
    text = table_text(database)
    assert PHONE not in text
    assert resident_id not in text  # not even the phone's keyed id: a pseudonym of it


def test_a_wrong_sms_code_is_recorded_as_a_failed_login_without_the_number(
    client: TestClient, database: Database, provider: RecordingProvider, wall: Wall
) -> None:
    client.post("/v1/auth/sms/code", json={"phone": "+86 138-1234-5678"})
    wrong = "000000" if provider.last_code() != "000000" else "111111"
    for _ in range(5):  # the fifth locks the phone: 429, recorded too
        wall.advance(seconds=1)
        client.post("/v1/auth/sms/login", json={"phone": "+86 138-1234-5678", "code": wrong})
    events = stored_events(database)
    assert [(e.action, e.actor, e.subject) for e in events] == [("login_failed", "anonymous", "")] * 5
    assert [json.loads(e.detail)["reason"] for e in events] == ["unauthenticated"] * 4 + ["rate_limited"]
    assert {json.loads(e.detail)["method"] for e in events} == {"sms"}
    text = table_text(database)
    for trace in (PHONE, "1234-5678", "12345678", "5678 ", wrong):
        assert trace not in text


def test_wechat_logins_of_the_mini_program_and_the_official_account_are_recorded(
    client: TestClient, database: Database, audit: AuditLog, wall: Wall
) -> None:
    assert client.post("/v1/auth/wechat", json={"code": "dev:openid-42"}).status_code == 200
    wall.advance(seconds=1)
    assert client.post("/v1/auth/wechat-web", json={"code": "dev:oa-resident"}).status_code == 200
    wall.advance(seconds=1)
    assert client.post("/v1/auth/wechat-web", json={"code": "not-a-dev-code"}).status_code == 401
    events = stored_events(database)
    assert [(e.action, json.loads(e.detail)["method"]) for e in events] == [
        ("login_wechat", "wechat_mini_program"),
        ("login_wechat", "wechat_web"),
        ("login_failed", "wechat_web"),
    ]
    assert events[0].actor == audit.pseudonyms.resident("openid-42")
    assert events[1].actor == audit.pseudonyms.resident("oa-resident")
    assert events[0].actor != events[1].actor
    text = table_text(database)
    assert "openid-42" not in text
    assert "oa-resident" not in text


def test_a_login_whose_audit_cannot_be_written_hands_out_no_token(client: TestClient, database: Database) -> None:
    with database.engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE audit_events")
    refused = client.post("/v1/auth/wechat", json={"code": "dev:openid-42"})
    assert refused.status_code == 503
    assert "token" not in refused.json()
    # A refused code is still refused (401), whether or not its failure could be recorded.
    assert client.post("/v1/auth/wechat", json={"code": "nope"}).status_code == 401
