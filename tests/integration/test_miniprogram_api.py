"""The mini-program's compiled API layer (clients/miniprogram/dist/api) against a real intake over HTTP: Node runs it
with wx.request and wx.uploadFile shimmed onto fetch, and logs in with the development verifier's `dev:<openid>`."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import RunningIntake

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "clients" / "miniprogram"
RUNNER = CLIENT / "test" / "integration" / "run-against-intake.cjs"
NODE_SECONDS = 90
COMMUNITY = "恒康居民区"
OPENID = "mp-integration"
# A 1×1 PNG: the smallest photo a phone could send.
PNG_1x1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
UPLOADS_PATH = "/v1/uploads"
MESSAGES_PATH = "/v1/tickets/{ticket_id}/messages"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """The check is about the client and the wire, not the ticket store: SQLite alone is enough here."""
    return f"sqlite:///{tmp_path / 'tickets.sqlite'}"


@pytest.fixture(scope="module")
def built_client() -> Path:
    """clients/miniprogram/dist, built when its node_modules are installed (`make miniprogram` does both)."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the mini-program's API layer runs on Node.js ≥ 18")
    if not (CLIENT / "dist" / "api" / "tickets.js").is_file():
        if not (CLIENT / "node_modules").is_dir():
            pytest.fail("clients/miniprogram is not built: run `make miniprogram`")
        subprocess.run(["npm", "run", "build"], cwd=CLIENT, check=True, capture_output=True, timeout=300)
    return CLIENT / "dist"


def server_paths(intake: RunningIntake) -> set[str]:
    """The routes intake's OpenAPI document lists."""
    document: dict[str, Any] = intake.http.get("/openapi.json").json()
    return set(document["paths"])


def run_client(intake: RunningIntake, *extra: str) -> dict[str, Any]:
    """Runs the API layer against intake and returns the JSON report it printed."""
    command = [
        "node",
        str(RUNNER),
        "--base",
        f"http://127.0.0.1:{intake.settings.http_port}",
        "--openid",
        OPENID,
        "--community",
        COMMUNITY,
        *extra,
    ]
    result = subprocess.run(command, cwd=CLIENT, capture_output=True, text=True, timeout=NODE_SECONDS, check=False)
    assert result.returncode == 0, f"the mini-program's API layer failed: {result.stderr[-3000:]}"
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_api_layer_logs_in_submits_lists_and_reads(built_client: Path, intake: RunningIntake) -> None:
    report = run_client(intake)

    assert report["session"]["resident_id"] == OPENID
    submitted = report["submitted"]
    assert submitted["resident_id"] == OPENID
    assert submitted["community"] == COMMUNITY
    assert submitted["building"] == "3号楼"
    assert submitted["location"] == {"latitude": 31.2304, "longitude": 121.4737}
    # The same Idempotency-Key: the retry is the same ticket, not a second one.
    assert report["retried"]["id"] == submitted["id"]
    assert [ticket["id"] for ticket in report["mine"]["tickets"]] == [submitted["id"]]
    read = report["read"]
    assert read["id"] == submitted["id"]
    assert read["text"] == submitted["text"]
    assert read["events"][0]["kind"] == "received"


def test_api_layer_reads_answers_and_decisions_and_words_refusals(built_client: Path, intake: RunningIntake) -> None:
    report = run_client(intake)

    assert isinstance(report["answer"]["answered"], bool)
    assert report["answer"]["answered"] == (report["answer"]["answer"] is not None)
    assert report["decisions"] == {"decisions": []}
    # Both field errors come back, each named in Chinese for the resident.
    assert report["refused"]["status"] == 422
    assert "问题描述:至少写两个字" in report["refused"]["words"]
    assert "小区:不在服务范围内" in report["refused"]["words"]
    assert report["missing"] == {"status": 404, "code": "not_found", "words": "没有找到这条反映。"}


def test_photo_upload_reaches_the_ticket(built_client: Path, intake: RunningIntake, tmp_path: Path) -> None:
    assert UPLOADS_PATH in server_paths(intake)
    photo = tmp_path / "corridor.png"
    photo.write_bytes(PNG_1x1)

    report = run_client(intake, "--photo", str(photo))

    upload = report["upload"]
    assert upload["url"].startswith(("http://", "https://"))
    assert (upload["kind"], upload["width"], upload["height"]) == ("before", 1, 1)
    [attachment] = report["photo_ticket"]["attachments"]
    assert (attachment["id"], attachment["kind"]) == (upload["upload_id"], "before")
    fetched = intake.http.get(attachment["url"])
    assert fetched.status_code == 200
    assert fetched.headers["content-type"] == "image/png"


def test_conversation_on_a_ticket(built_client: Path, intake: RunningIntake) -> None:
    if MESSAGES_PATH not in server_paths(intake):
        pytest.skip("needs the server's GET/POST /v1/tickets/{id}/messages, which intake does not have yet")

    report = run_client(intake, "--messages")

    posted = report["posted_message"]
    assert posted["author"] == "resident"
    assert posted["text"] == "晚上七点后家里有人"
    assert [message["id"] for message in report["messages"]["messages"]] == [posted["id"]]
