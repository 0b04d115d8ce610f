"""Photo uploads end to end over HTTP against a real intake (uvicorn, SQLite and PostgreSQL, Redis): a phone photo
goes in with its GPS position and comes out without it, a resident's ticket and a worker's resolution carry photos,
only those who may read the ticket get links, and a body streamed past the limit is cut off.

Photos need no routing: intake runs without routing and retrieval servers (nothing answers at their targets), and
the one test that needs a routed ticket records the triage decision in intake's own process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.intake.triage.flows import TriageFlows
from tests.conftest import free_port
from tests.integration.conftest import RunningIntake, intake_settings_for, running_intake
from tests.tokens import as_resident, as_worker
from tests.unit.intake.fakes import decision
from tests.unit.intake.uploads.photos import exif_of, jpeg_with_gps, png

pytestmark = pytest.mark.integration

COMMUNITY = "恒康居民区"
RESIDENT = as_resident("photo-resident")
NEIGHBOUR = as_resident("photo-neighbour")


@pytest.fixture
def intake(database_url: str, redis_url: str) -> Iterator[RunningIntake]:
    """Intake alone: its HTTP API under uvicorn, the real ticket database and broker."""
    with running_intake(intake_settings_for(database_url, redis_url, free_port(), free_port())) as running:
        yield running


def upload(intake: RunningIntake, content: bytes, headers: dict[str, str], **form: str) -> dict[str, object]:
    reply = intake.http.post(
        "/v1/uploads", files={"file": ("IMG_0001.JPG", content, "image/jpeg")}, data=form, headers=headers
    )
    assert reply.status_code == 201, reply.text
    body: dict[str, object] = reply.json()
    return body


def test_a_phone_photo_reaches_the_ticket_without_its_gps(intake: RunningIntake) -> None:
    photo = upload(intake, jpeg_with_gps(64, 48), RESIDENT)
    ticket = intake.http.post(
        "/v1/tickets",
        json={
            "text": "3号楼门口的垃圾桶满了好几天没人清",
            "community": COMMUNITY,
            "attachment_ids": [photo["upload_id"]],
        },
        headers=RESIDENT,
    ).json()
    [attachment] = ticket["attachments"]

    full = intake.http.get(attachment["url"])
    thumbnail = intake.http.get(attachment["thumbnail_url"])

    assert full.status_code == thumbnail.status_code == 200
    assert exif_of(full.content) == exif_of(thumbnail.content) == {}
    assert (attachment["width"], attachment["height"]) == (48, 64)  # turned upright by its EXIF orientation
    assert intake.http.get(f"/v1/uploads/{photo['upload_id']}", headers=NEIGHBOUR).status_code == 404
    denied = intake.http.post(
        "/v1/uploads",
        files={"file": ("a.png", png(), "image/png")},
        data={"ticket_id": ticket["id"]},
        headers=NEIGHBOUR,
    )
    assert denied.status_code == 404
    assert "没有找到这条反映" in denied.json()["error"]["message"]


def test_a_worker_resolves_with_an_after_photo(intake: RunningIntake) -> None:
    ticket_id = intake.http.post(
        "/v1/tickets",
        json={"text": "小区南门的路灯坏了,晚上很黑", "community": COMMUNITY, "building": "南门"},
        headers=RESIDENT,
    ).json()["id"]
    TriageFlows(intake.server.context).record_triage(ticket_id, decision("property_manager"))
    worker = as_worker("w-photo", "property_manager", COMMUNITY)
    accepted = intake.http.post(f"/v1/tickets/{ticket_id}/accept", headers=worker)
    assert accepted.status_code == 200, accepted.text
    after = upload(intake, png(64, 64, "RGB"), worker)

    resolved = intake.http.post(
        f"/v1/tickets/{ticket_id}/resolve",
        json={"resolution": "已更换路灯灯泡", "attachment_ids": [after["upload_id"]]},
        headers=worker,
    )

    assert resolved.status_code == 200, resolved.text
    seen = intake.http.get(f"/v1/tickets/{ticket_id}", headers=RESIDENT).json()["attachments"]
    assert [(a["id"], a["kind"]) for a in seen] == [(after["upload_id"], "after")]
    assert intake.http.get(seen[0]["url"]).headers["content-type"] == "image/png"


def test_a_body_streamed_past_the_limit_is_cut_off(intake: RunningIntake) -> None:
    boundary = "linli-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode()

    def body() -> Iterator[bytes]:
        # No Content-Length: the limit must hold on the bytes as they arrive.
        yield head
        for _ in range(24):
            yield b"\xff" * (1024 * 1024)
        yield f"\r\n--{boundary}--\r\n".encode()

    reply = intake.http.post(
        "/v1/uploads",
        content=body(),
        headers={**RESIDENT, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )

    assert reply.status_code == 413
    assert "照片太大" in reply.json()["error"]["message"]
