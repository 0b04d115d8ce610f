"""Probes #3-#6: lone surrogates, impossible ISO weeks, invisible or direction-flipping text, unknown gRPC enums."""

from __future__ import annotations

import json
from collections.abc import Callable

import grpc
import httpx
import pytest

from linli.v1 import intake_pb2, intake_pb2_grpc
from tests.security.conftest import COMMUNITY, RunningStack
from tests.tokens import as_resident, as_worker, resident_metadata, worker_metadata

pytestmark = [pytest.mark.integration, pytest.mark.security]
LONE = "\ud800"
VALID_TICKET = {"text": "3号楼楼道的灯坏了好几天了", "community": COMMUNITY}


def post_raw(
    stack: RunningStack, path: str, body: dict[str, object], headers: dict[str, str], content_type: str | None = None
) -> httpx.Response:
    """Posts `body` as ASCII JSON, so a lone surrogate travels as the `\\ud800` escape a hostile client writes;
    without a content type (FastAPI reads that body as JSON too) unless one is given."""
    typed = {"Content-Type": content_type} if content_type else {}
    return stack.http.post(path, content=json.dumps(body).encode("ascii"), headers={**headers, **typed})


def assert_bad_text(reply: httpx.Response, field: str) -> None:
    assert reply.status_code == 422, reply.text
    error = reply.json()["error"]
    assert error["fields"][0]["field"] == field
    assert "无效的文字编码" in error["fields"][0]["description"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"text": f"楼道灯坏了{LONE}"}, "text"),
        ({"building": f"3号楼{LONE}"}, "building"),
        ({"idempotency_key": f"key-{LONE}"}, "idempotency_key"),
        ({"attachment_urls": [f"https://example.com/{LONE}.jpg"]}, "attachment_urls[0]"),
    ],
)
def test_a_submission_with_a_lone_surrogate_is_422(
    stack: RunningStack, fresh_id: Callable[[str], str], change: dict[str, object], field: str
) -> None:
    for content_type in ("application/json; charset=utf-8", None):
        reply = post_raw(stack, "/v1/tickets", VALID_TICKET | change, as_resident(fresh_id("r")), content_type)
        assert_bad_text(reply, field)


def test_every_other_text_with_a_lone_surrogate_is_422(stack: RunningStack, fresh_id: Callable[[str], str]) -> None:
    resident = fresh_id("r")
    ticket_id = stack.submit(resident)
    stack.set_state(ticket_id, status="resolved", party="property_manager")
    worker = as_worker("w-pm", "property_manager", COMMUNITY)
    probes: list[tuple[str, dict[str, object], dict[str, str], str]] = [
        (f"/v1/tickets/{ticket_id}/rate", {"score": 4, "comment": f"好{LONE}"}, as_resident(resident), "comment"),
        (f"/v1/tickets/{ticket_id}/reopen", {"reason": f"又坏了{LONE}"}, as_resident(resident), "reason"),
        (f"/v1/tickets/{ticket_id}/resolve", {"resolution": f"已修{LONE}"}, worker, "resolution"),
        (
            "/v1/meetings",
            {"community": COMMUNITY, "topic_key": "other", "title": f"停车{LONE}"},
            as_worker("w-so", "street_office", COMMUNITY),
            "title",
        ),
        ("/v1/auth/wechat", {"code": f"dev:{LONE}"}, {}, "code"),
    ]
    for path, body, headers, field in probes:
        assert_bad_text(post_raw(stack, path, body, headers), field)
    assert stack.http.get(f"/v1/tickets/{ticket_id}", headers=as_resident(resident)).json()["status"] == "resolved"


def _raw_submit(text_utf8: bytes) -> bytes:
    """A SubmitTicketRequest on the wire whose text is `text_utf8`, which need not be valid UTF-8."""
    community = intake_pb2.SubmitTicketRequest(community=COMMUNITY).SerializeToString()
    return bytes([0x0A, len(text_utf8)]) + text_utf8 + community  # field 1 (text), length-delimited


def test_grpc_answers_invalid_argument_for_bad_text(stack: RunningStack, fresh_id: Callable[[str], str]) -> None:
    assert intake_pb2.SubmitTicketRequest.DESCRIPTOR.fields_by_name["text"].number == 1
    submit = stack.channel.unary_unary(
        "/linli.v1.IntakeService/SubmitTicket",
        request_serializer=lambda raw: raw,
        response_deserializer=intake_pb2.SubmitTicketResponse.FromString,
    )
    metadata = resident_metadata(fresh_id("r"))
    surrogate = "楼道灯坏了".encode() + b"\xed\xa0\x80"  # U+D800 encoded as if it were a character
    for text_utf8 in (surrogate, b"\xff\xfe broken"):
        with pytest.raises(grpc.RpcError) as refused:
            submit(_raw_submit(text_utf8), metadata=metadata)
        assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT, refused.value.details()
    stub = intake_pb2_grpc.IntakeServiceStub(stack.channel)
    for bad in ("\u200b\u200b\u200b", "楼道灯\u202e坏了"):
        with pytest.raises(grpc.RpcError) as refused:
            stub.SubmitTicket(intake_pb2.SubmitTicketRequest(text=bad, community=COMMUNITY), metadata=metadata)
        assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize("week", ["0001-W01", "9999-W52", "2026-W54", "2026-W00"])
def test_an_impossible_week_is_422(stack: RunningStack, week: str) -> None:
    reply = stack.http.get(
        "/v1/topics",
        params={"community": COMMUNITY, "week": week},
        headers=as_worker("w-so", "street_office", COMMUNITY),
    )
    assert reply.status_code == 422, reply.text
    assert reply.json()["error"]["fields"][0]["field"] == "week"


@pytest.mark.parametrize(
    "text",
    [
        "\u200b\u200b\u200b",  # zero-width spaces only
        "\u200b楼\u200d\ufeff",  # one visible character among format characters
        "楼道灯坏了\u202e了好修",  # right-to-left override
        "楼道灯\u2066坏了\u2069",  # isolate
    ],
)
def test_text_must_show_two_characters_and_keep_its_direction(
    stack: RunningStack, fresh_id: Callable[[str], str], text: str
) -> None:
    reply = stack.http.post("/v1/tickets", json=VALID_TICKET | {"text": text}, headers=as_resident(fresh_id("r")))
    assert reply.status_code == 422, reply.text
    assert reply.json()["error"]["fields"][0]["field"] == "text"


def test_text_with_a_joiner_inside_visible_words_is_accepted(
    stack: RunningStack, fresh_id: Callable[[str], str]
) -> None:
    reply = stack.http.post(
        "/v1/tickets",
        json=VALID_TICKET | {"text": "楼道\u200d灯坏了 👨\u200d👩\u200d👧"},
        headers=as_resident(fresh_id("r")),
    )
    assert reply.status_code == 201, reply.text


@pytest.mark.parametrize("field", ["status", "escalation_level"])
def test_grpc_list_tickets_with_an_unknown_enum_value_is_invalid_argument(stack: RunningStack, field: str) -> None:
    stub = intake_pb2_grpc.IntakeServiceStub(stack.channel)
    request = intake_pb2.ListTicketsRequest(community=COMMUNITY)
    setattr(request, field, 99)
    with pytest.raises(grpc.RpcError) as refused:
        stub.ListTickets(request, metadata=worker_metadata("w-pm", "property_manager", COMMUNITY))
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert field in (refused.value.details() or "")
