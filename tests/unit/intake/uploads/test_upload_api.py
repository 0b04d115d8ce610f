"""POST /v1/uploads and photos on tickets over HTTP: bad uploads get a clear 4xx in Chinese and store nothing, photos
are read only through fresh signed links by those who may read their ticket."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from services.intake.auth.tokens import issue_token
from services.intake.database import Database
from services.intake.http_app import create_http_app
from services.intake.residents.erasure import ErasureFlows
from services.intake.tickets.flows import TicketFlows
from services.intake.uploads.assembly import create_uploads
from services.intake.uploads.models import Upload
from services.intake.uploads.settings import UploadSettings
from tests.tokens import as_resident, as_worker, bearer, environment_codec
from tests.unit.intake.fakes import Intake, decision, face_services, http_security
from tests.unit.intake.uploads.photos import (
    SVG_WITH_SCRIPT,
    exif_of,
    jpeg_with_gps,
    png,
    png_declaring,
)

# What TestClient answers (httpx's, or httpx2's Response, whichever starlette imported).
Reply = Any
COMMUNITY = "西渚社区"
RESIDENT = as_resident("r-1")
NEIGHBOUR = as_resident("r-2")
PM = as_worker("w-7", "property_manager", COMMUNITY)
PER_TICKET = 3


@dataclass
class Stack:
    client: TestClient
    intake: Intake
    folder: Path

    def stored_files(self) -> list[Path]:
        return sorted(p for p in self.folder.rglob("*") if p.is_file())

    def stored_rows(self) -> int:
        with self.intake.database.unit_of_work() as session:
            return int(session.scalar(select(func.count()).select_from(Upload)) or 0)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    database = Database(f"sqlite:///{tmp_path / 'tickets.sqlite'}")
    database.upgrade_schema()
    intake = Intake(database)
    folder = tmp_path / "uploads"
    settings = UploadSettings(folder=folder, max_per_ticket=PER_TICKET)
    uploads = create_uploads(intake.context, settings, secrets=[b"s" * 32])
    flows = TicketFlows(intake.context, uploads.flows)
    ready = threading.Event()
    ready.set()
    erasure = ErasureFlows(intake.context, None, uploads.store)
    faces = face_services(flows, database)
    app = create_http_app(
        flows, http_security(), database, ready, erasure, intake.messages, uploads=uploads, faces=faces
    )
    yield Stack(TestClient(app, headers=RESIDENT), intake, folder)
    database.dispose()


def upload(
    stack: Stack, content: bytes, name: str = "photo.jpg", *, headers: dict[str, str] | None = None, ticket_id: str = ""
) -> Reply:
    """POSTs one file as a phone would (declared image/jpeg, whatever it holds)."""
    form = {"ticket_id": ticket_id} if ticket_id else {}
    return stack.client.post("/v1/uploads", files={"file": (name, content, "image/jpeg")}, data=form, headers=headers)


def submit(stack: Stack, **fields: Any) -> Reply:
    return stack.client.post("/v1/tickets", json={"text": "楼道灯坏了一个星期了", "community": COMMUNITY, **fields})


def refused(response: Reply, status: int, words: str, stack: Stack) -> None:
    """The upload got `status` with a message containing `words`, and nothing was stored."""
    assert response.status_code == status, response.text
    assert words in response.json()["error"]["message"]
    assert (stack.stored_files(), stack.stored_rows()) == ([], 0)


def test_a_phone_photo_is_stored_without_gps_and_read_through_signed_links(stack: Stack) -> None:
    created = upload(stack, jpeg_with_gps(40, 20), "IMG_0001.JPG")

    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["kind"], body["ticket_id"], body["width"], body["height"]) == ("before", "", 20, 40)
    assert body["url"].startswith("http://testserver/files/")
    assert "sig=" in body["url"]
    files = stack.stored_files()
    assert [p.name for p in files] == ["photo.jpg", "thumbnail.jpg"]
    for stored in files:
        assert exif_of(stored.read_bytes()) == {}
        assert b"linli-test-phone" not in stored.read_bytes()
    photo = stack.client.get(body["url"], headers={"Authorization": ""})
    assert photo.status_code == 200
    assert (photo.headers["content-type"], photo.content) == ("image/jpeg", files[0].read_bytes())
    assert stack.client.get(body["thumbnail_url"]).content == files[1].read_bytes()


def test_a_forged_or_altered_link_is_refused(stack: Stack) -> None:
    url = upload(stack, png()).json()["url"]
    assert stack.client.get(url.replace("sig=", "sig=0")).status_code == 403
    assert stack.client.get(url.replace("photo.png", "thumbnail.jpg")).status_code == 403
    assert stack.client.get("/files/../../etc/passwd?exp=9999999999&sig=x").status_code == 404


def test_a_text_file_named_jpg_is_refused(stack: Stack) -> None:
    refused(upload(stack, b"just some text, not a photo", "photo.jpg"), 415, "不是照片", stack)


def test_an_svg_with_a_script_is_refused(stack: Stack) -> None:
    refused(upload(stack, SVG_WITH_SCRIPT, "photo.svg"), 415, "不是照片", stack)


def test_a_20_mb_photo_is_refused(stack: Stack) -> None:
    refused(upload(stack, jpeg_with_gps() + b"\0" * (20 * 1024 * 1024)), 413, "10 MB", stack)


def test_a_decompression_bomb_is_refused(stack: Stack) -> None:
    refused(upload(stack, png_declaring(30000, 30000), "bomb.png"), 413, "像素", stack)


def test_a_photo_over_the_tickets_cap_is_refused(stack: Stack) -> None:
    ticket_id = submit(stack).json()["id"]
    for _ in range(PER_TICKET):
        assert upload(stack, png(), ticket_id=ticket_id).status_code == 201
    files = stack.stored_files()

    response = upload(stack, png(), ticket_id=ticket_id)

    assert response.status_code == 409, response.text
    assert f"最多 {PER_TICKET} 张照片" in response.json()["error"]["message"]
    assert (stack.stored_files(), stack.stored_rows()) == (files, PER_TICKET)
    assert len(stack.client.get(f"/v1/tickets/{ticket_id}").json()["attachments"]) == PER_TICKET


def test_a_photo_for_another_residents_ticket_is_not_found(stack: Stack) -> None:
    ticket_id = submit(stack).json()["id"]
    response = upload(stack, png(), ticket_id=ticket_id, headers=NEIGHBOUR)
    refused(response, 404, "没有找到这条反映", stack)
    refused(upload(stack, png(), ticket_id="0" * 32), 404, "没有找到这条反映", stack)


def test_a_submission_attaches_the_residents_uploads(stack: Stack) -> None:
    photo_id = upload(stack, jpeg_with_gps()).json()["upload_id"]

    created = submit(stack, attachment_ids=[photo_id], attachment_urls=["https://example.org/elsewhere.jpg"])

    assert created.status_code == 201, created.text
    ticket = created.json()
    assert ticket["attachment_urls"] == ["https://example.org/elsewhere.jpg"]
    [attachment] = ticket["attachments"]
    assert (attachment["id"], attachment["kind"]) == (photo_id, "before")
    assert stack.client.get(attachment["thumbnail_url"]).headers["content-type"] == "image/jpeg"
    assert stack.client.get(attachment["url"]).status_code == 200
    listed = stack.client.get("/v1/tickets").json()["tickets"]
    assert [a["id"] for a in listed[0]["attachments"]] == [photo_id]
    # The photo now belongs to the ticket: another submission cannot take it.
    again = submit(stack, attachment_ids=[photo_id], text="另一个问题:电梯坏了")
    assert again.status_code == 422
    assert "已属于另一条反映" in again.text


def test_attaching_someone_elses_upload_is_refused(stack: Stack) -> None:
    photo_id = upload(stack, png()).json()["upload_id"]
    response = stack.client.post(
        "/v1/tickets",
        json={"text": "楼道灯坏了一个星期了", "community": COMMUNITY, "attachment_ids": [photo_id]},
        headers=NEIGHBOUR,
    )
    assert response.status_code == 403
    assert "别人上传的照片" in response.json()["error"]["message"]
    assert stack.client.get("/v1/tickets", headers=NEIGHBOUR).json()["tickets"] == []  # no ticket either
    unknown = submit(stack, attachment_ids=["f" * 32])
    assert unknown.status_code == 422
    assert unknown.json()["error"]["fields"][0]["field"] == "attachment_ids[0]"


def test_the_ticket_a_message_returns_keeps_its_photos(stack: Stack) -> None:
    """The pages re-render the ticket a question or an answer returns: its photos must come with it."""
    photo_id = upload(stack, jpeg_with_gps()).json()["upload_id"]
    ticket_id = submit(stack, attachment_ids=[photo_id]).json()["id"]
    stack.intake.triage.record_triage(ticket_id, decision("property_manager"))

    asked = stack.client.post(
        f"/v1/tickets/{ticket_id}/messages", json={"text": "请问是几楼?", "asks_resident": True}, headers=PM
    )
    answered = stack.client.post(f"/v1/tickets/{ticket_id}/messages", json={"text": "三楼"})

    for reply in (asked, answered):
        assert reply.status_code == 201, reply.text
        [attachment] = reply.json()["ticket"]["attachments"]
        assert attachment["id"] == photo_id
        assert stack.client.get(attachment["thumbnail_url"]).status_code == 200


def test_only_those_who_may_read_the_ticket_get_its_photo(stack: Stack) -> None:
    photo_id = upload(stack, png()).json()["upload_id"]
    assert stack.client.get(f"/v1/uploads/{photo_id}", headers=NEIGHBOUR).status_code == 404
    assert stack.client.get(f"/v1/uploads/{photo_id}", headers=PM).status_code == 404  # not on a ticket yet
    ticket_id = submit(stack, attachment_ids=[photo_id]).json()["id"]
    stack.intake.triage.record_triage(ticket_id, decision("property_manager"))
    fresh = stack.client.get(f"/v1/uploads/{photo_id}", headers=PM)
    assert fresh.status_code == 200
    assert fresh.json()["ticket_id"] == ticket_id
    assert stack.client.get(f"/v1/uploads/{photo_id}", headers=NEIGHBOUR).status_code == 404


def test_a_worker_resolves_with_after_photos(stack: Stack) -> None:
    before = upload(stack, png()).json()["upload_id"]
    ticket_id = submit(stack, attachment_ids=[before]).json()["id"]
    stack.intake.triage.record_triage(ticket_id, decision("property_manager"))
    assert stack.client.post(f"/v1/tickets/{ticket_id}/accept", headers=PM).status_code == 200
    after = upload(stack, jpeg_with_gps(), headers=PM).json()
    assert after["kind"] == "after"

    resolved = stack.client.post(
        f"/v1/tickets/{ticket_id}/resolve",
        json={"resolution": "已更换灯泡", "attachment_ids": [after["upload_id"]]},
        headers=PM,
    )

    assert resolved.status_code == 200, resolved.text
    kinds = [(a["id"], a["kind"]) for a in resolved.json()["attachments"]]
    assert kinds == [(before, "before"), (after["upload_id"], "after")]
    # The resident sees the worker's after-photo on their ticket.
    mine = stack.client.get(f"/v1/tickets/{ticket_id}").json()["attachments"]
    assert stack.client.get(mine[1]["url"]).status_code == 200


def test_a_service_token_cannot_upload(stack: Stack) -> None:
    service = bearer(issue_token("service", "triage", ttl=timedelta(hours=1), codec=environment_codec())[0])
    refused(upload(stack, png(), headers=service), 403, "居民或工作人员", stack)


def test_erasing_a_resident_deletes_their_photos(stack: Stack) -> None:
    attached = upload(stack, jpeg_with_gps()).json()["upload_id"]
    upload(stack, png())  # never attached: still theirs
    ticket_id = submit(stack, attachment_ids=[attached]).json()["id"]
    assert len(stack.stored_files()) == 4

    assert stack.client.delete("/v1/me").status_code == 200

    assert (stack.stored_files(), stack.stored_rows()) == ([], 0)
    # The ticket stays, for the problem is still to be handled, without the photos.
    stack.intake.triage.record_triage(ticket_id, decision("property_manager"))
    assert stack.client.get(f"/v1/tickets/{ticket_id}", headers=PM).json()["attachments"] == []
