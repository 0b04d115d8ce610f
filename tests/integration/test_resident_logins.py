"""Residents' logins outside the mini-program against a real intake over HTTP (uvicorn, Redis broker, SQLite): the
SMS code printed by the development provider logs a resident in, their token submits and lists tickets under the
`phone:` id, wrong codes lock the phone, the mini-program's compiled SMS calls match the server, and the official
account's login takes `dev:<openid>`."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port
from tests.integration.conftest import RunningIntake, intake_settings_for, running_intake
from tests.integration.test_miniprogram_api import CLIENT, NODE_SECONDS, built_client  # noqa: F401 (fixture)

pytestmark = pytest.mark.integration

PHONE = "13912345678"
DEV_CODE = re.compile(r"login code for 139\*\*\*\*5678: ([0-9]{6})")
SMS_RUNNER = CLIENT / "test" / "integration" / "sms-against-intake.cjs"
COMPLAINT = {"text": "3号楼楼道的灯坏了好几天了,晚上看不见台阶", "community": "恒康居民区"}


@pytest.fixture
def sms_intake(tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningIntake]:
    """Intake with the development SMS provider; routing and retrieval are never reached by a login."""
    monkeypatch.setenv("LINLI_SMS_PROVIDER", "dev")
    unused = free_port()
    settings = intake_settings_for(f"sqlite:///{tmp_path / 'tickets.sqlite'}", redis_url, unused, unused)
    with running_intake(settings) as intake:
        yield intake


def printed_code(capfd: pytest.CaptureFixture[str]) -> str:
    found = DEV_CODE.findall(capfd.readouterr().out)
    assert found, "the development provider printed no code"
    return str(found[-1])


def test_a_resident_logs_in_by_sms_and_uses_the_token(
    sms_intake: RunningIntake, capfd: pytest.CaptureFixture[str]
) -> None:
    paths = set(sms_intake.http.get("/openapi.json").json()["paths"])
    assert {"/v1/auth/sms/code", "/v1/auth/sms/login", "/v1/auth/wechat-web"} <= paths

    sent = sms_intake.http.post("/v1/auth/sms/code", json={"phone": f"+86 {PHONE}"})
    assert sent.status_code == 200, sent.text
    code = printed_code(capfd)
    session = sms_intake.http.post("/v1/auth/sms/login", json={"phone": PHONE, "code": code}).json()
    assert session["resident_id"].startswith("phone:")
    assert PHONE not in session["resident_id"]
    assert PHONE not in session["token"]

    bearer = {"Authorization": f"Bearer {session['token']}"}
    created = sms_intake.http.post("/v1/tickets", json=COMPLAINT, headers=bearer)
    assert created.status_code in (200, 201), created.text
    assert created.json()["resident_id"] == session["resident_id"]
    mine = sms_intake.http.get("/v1/tickets", headers=bearer).json()["tickets"]
    assert [ticket["id"] for ticket in mine] == [created.json()["id"]]

    # The code was used: it does not log in twice.
    assert sms_intake.http.post("/v1/auth/sms/login", json={"phone": PHONE, "code": code}).status_code == 401


def test_wrong_codes_lock_the_phone(sms_intake: RunningIntake, capfd: pytest.CaptureFixture[str]) -> None:
    assert sms_intake.http.post("/v1/auth/sms/code", json={"phone": PHONE}).status_code == 200
    code = printed_code(capfd)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    answers = [
        sms_intake.http.post("/v1/auth/sms/login", json={"phone": PHONE, "code": wrong}).status_code for _ in range(5)
    ]
    assert answers == [401, 401, 401, 401, 429]
    locked = sms_intake.http.post("/v1/auth/sms/login", json={"phone": PHONE, "code": code})
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 800


def test_the_official_account_login_takes_dev_codes_in_development(sms_intake: RunningIntake) -> None:
    reply = sms_intake.http.post("/v1/auth/wechat-web", json={"code": "dev:oa-integration"})
    assert reply.status_code == 200, reply.text
    assert reply.json()["resident_id"] == "oa-integration"
    page = sms_intake.http.get("/h5/")
    assert '"sms_login": true' in page.text


def run_node(intake: RunningIntake, *extra: str) -> dict[str, Any]:
    """Runs the mini-program's built SMS login against intake and returns the JSON report it printed."""
    command = ["node", str(SMS_RUNNER), "--base", f"http://127.0.0.1:{intake.settings.http_port}", *extra]
    result = subprocess.run(command, cwd=CLIENT, capture_output=True, text=True, timeout=NODE_SECONDS, check=False)
    assert result.returncode == 0, f"the mini-program's SMS login failed: {result.stderr[-3000:]}"
    report: dict[str, Any] = json.loads(result.stdout)
    return report


@pytest.mark.usefixtures("built_client")
def test_the_mini_programs_sms_calls_match_the_server(
    sms_intake: RunningIntake, capfd: pytest.CaptureFixture[str]
) -> None:
    assert run_node(sms_intake, "--phone", PHONE) == {"sent": {"retry_after_seconds": 60}}
    code = printed_code(capfd)
    report = run_node(sms_intake, "--phone", PHONE, "--code", code)
    assert report["session"]["resident_id"].startswith("phone:")
    assert report["mine"]["tickets"] == []
