"""linli/clients through a real server: failed calls become linli errors, and deadlines only ever shrink."""

from __future__ import annotations

import time
from collections.abc import Iterator

import grpc
import numpy as np
import pytest

from linli import errors
from linli.clients.routing import RoutedComplaint, RoutingClient
from linli.deadlines import call_timeout, caller_deadline
from linli.grpc_serving import ServerHandle, build_server
from linli.settings import GrpcTlsSettings
from linli.v1 import routing_pb2, routing_pb2_grpc


class Answering(routing_pb2_grpc.RoutingServiceServicer):
    """Fails as the complaint text says, or sleeps, or reports the time it has left in `confidence`.

    Reporting `call_timeout(60)` shows what a call this handler made to another service would be given.
    """

    def Route(self, request: routing_pb2.RouteRequest, context: grpc.ServicerContext) -> routing_pb2.RouteResponse:  # noqa: N802
        text = request.complaint.text
        failures: dict[str, Exception] = {
            "invalid": errors.InvalidArgument.for_field("complaint.text", "must not be empty"),
            "missing": errors.NotFound("no such thing"),
            "down": errors.Unavailable("retrieval is down"),
            "bug": ZeroDivisionError("a real bug"),
        }
        if text in failures:
            raise failures[text]
        if text == "slow":
            time.sleep(2)
        remaining = call_timeout(60.0)
        response = routing_pb2.RouteResponse(decision=routing_pb2.RoutingDecision(confidence=remaining or -1.0))
        if text == "with vector":
            response.text_embedding.values.extend([0.6, 0.8])
            response.text_embedding.model = "m3e-small"
        return response


@pytest.fixture(scope="module")
def channel() -> Iterator[grpc.Channel]:
    handle: ServerHandle = build_server(
        host="127.0.0.1",
        port=0,
        workers=2,
        service_names=["linli.v1.RoutingService"],
        register=lambda s: routing_pb2_grpc.add_RoutingServiceServicer_to_server(Answering(), s),
        tls=GrpcTlsSettings(),
    )
    with grpc.insecure_channel(f"127.0.0.1:{handle.port}") as opened:
        yield opened
    handle.stop(0)


def routed(channel: grpc.Channel, text: str, *, timeout: float = 5.0) -> RoutedComplaint:
    return RoutingClient(channel, timeout_seconds=timeout, credentials=tuple).route(
        text=text, community="", building=""
    )


def route(channel: grpc.Channel, text: str, *, timeout: float = 5.0) -> routing_pb2.RoutingDecision:
    return routed(channel, text, timeout=timeout).decision


@pytest.mark.parametrize(
    ("text", "error", "code"),
    [
        ("invalid", errors.InvalidArgument, grpc.StatusCode.INVALID_ARGUMENT),
        ("missing", errors.NotFound, grpc.StatusCode.NOT_FOUND),
        ("down", errors.Unavailable, grpc.StatusCode.UNAVAILABLE),
        ("bug", errors.Unavailable, grpc.StatusCode.INTERNAL),
    ],
)
def test_a_failed_call_raises_the_linli_error_of_its_status(
    channel: grpc.Channel, text: str, error: type[errors.LinliError], code: grpc.StatusCode
) -> None:
    with pytest.raises(error) as raised:
        route(channel, text)
    assert raised.value.message.startswith("routing: ")
    assert raised.value.remote_code == code


def test_the_configured_timeout_holds_without_a_caller_deadline(channel: grpc.Channel) -> None:
    given = route(channel, "ok", timeout=5.0).confidence
    assert 4.0 < given < 5.5  # the server's handler sees the client's deadline, and cuts its own calls to it


def test_a_caller_deadline_shorter_than_the_configured_timeout_wins(channel: grpc.Channel) -> None:
    with caller_deadline(1.0):
        given = route(channel, "ok", timeout=30.0).confidence
    assert 0.0 < given < 1.5  # not the 30 s configured (grpc rounds deadlines a little)


def test_a_slow_call_ends_with_the_caller_deadline_as_unavailable(channel: grpc.Channel) -> None:
    began = time.monotonic()
    with caller_deadline(0.3), pytest.raises(errors.Unavailable) as raised:
        route(channel, "slow", timeout=30.0)
    assert raised.value.remote_code == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - began < 1.5


def test_nested_deadlines_only_shrink() -> None:
    assert call_timeout(7.0) == 7.0
    with caller_deadline(2.0):
        with caller_deadline(10.0):
            timeout = call_timeout(7.0)
            assert timeout is not None
            assert timeout <= 2.0
        assert call_timeout(None) is not None
    assert call_timeout(None) is None


def test_a_server_called_without_a_deadline_keeps_the_configured_timeout(channel: grpc.Channel) -> None:
    stub = routing_pb2_grpc.RoutingServiceStub(channel)
    reply = stub.Route(routing_pb2.RouteRequest(complaint=routing_pb2.Complaint(text="ok")))
    assert reply.decision.confidence == 60.0


def test_the_route_answer_carries_the_texts_vector_when_routing_sent_one(channel: grpc.Channel) -> None:
    answer = routed(channel, "with vector")
    assert answer.embedding is not None
    assert answer.embedding.model == "m3e-small"
    assert answer.embedding.vectors.dtype == np.float32
    assert answer.embedding.vectors.tolist() == [[pytest.approx(0.6), pytest.approx(0.8)]]
    assert answer.decision.confidence > 0


def test_the_route_answer_has_no_vector_when_routing_sent_none(channel: grpc.Channel) -> None:
    assert routed(channel, "ok").embedding is None  # a long letter, or a server older than text_embedding
