"""Domain errors reach gRPC callers with their own status code and field details, through a real server."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from linli import errors
from linli.grpc_serving import ServerHandle, build_server
from linli.settings import GrpcTlsSettings
from linli.v1 import routing_pb2, routing_pb2_grpc
from tests.tokens import as_service


class Raising(routing_pb2_grpc.RoutingServiceServicer):
    """Raises whatever error the complaint text names."""

    def Route(self, request: routing_pb2.RouteRequest, context: grpc.ServicerContext) -> routing_pb2.RouteResponse:  # noqa: N802
        raising: dict[str, Exception] = {
            "invalid": errors.InvalidArgument.for_field("complaint.text", "must not be empty"),
            "missing": errors.NotFound("no such thing"),
            "exists": errors.AlreadyExists("already there"),
            "state": errors.FailedPrecondition("wrong state"),
            "forbidden": errors.PermissionDenied("not yours"),
            "down": errors.Unavailable("retrieval is down"),
            "busy": errors.ResourceExhausted("slow down"),
            "bug": ZeroDivisionError("a real bug"),
        }
        raise raising[request.complaint.text]


@pytest.fixture
def server() -> Iterator[ServerHandle]:
    handle = build_server(
        host="127.0.0.1",
        port=0,
        workers=2,
        service_names=["linli.v1.RoutingService"],
        register=lambda s: routing_pb2_grpc.add_RoutingServiceServicer_to_server(Raising(), s),
        tls=GrpcTlsSettings(),
    )
    yield handle
    handle.stop(0)


@pytest.fixture
def stub(server: ServerHandle) -> Iterator[routing_pb2_grpc.RoutingServiceStub]:
    with as_service(grpc.insecure_channel(f"127.0.0.1:{server.port}")) as channel:
        yield routing_pb2_grpc.RoutingServiceStub(channel)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("invalid", grpc.StatusCode.INVALID_ARGUMENT),
        ("missing", grpc.StatusCode.NOT_FOUND),
        ("exists", grpc.StatusCode.ALREADY_EXISTS),
        ("state", grpc.StatusCode.FAILED_PRECONDITION),
        ("forbidden", grpc.StatusCode.PERMISSION_DENIED),
        ("down", grpc.StatusCode.UNAVAILABLE),
        ("busy", grpc.StatusCode.RESOURCE_EXHAUSTED),
        ("bug", grpc.StatusCode.INTERNAL),
    ],
)
def test_each_error_keeps_its_status(
    stub: routing_pb2_grpc.RoutingServiceStub, text: str, code: grpc.StatusCode
) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        stub.Route(routing_pb2.RouteRequest(complaint=routing_pb2.Complaint(text=text)), timeout=5)
    assert raised.value.code() == code


def test_field_violations_travel_as_bad_request(stub: routing_pb2_grpc.RoutingServiceStub) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        stub.Route(routing_pb2.RouteRequest(complaint=routing_pb2.Complaint(text="invalid")), timeout=5)
    assert isinstance(raised.value, grpc.Call)
    status = rpc_status.from_call(raised.value)
    assert status is not None
    bad_request = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad_request)
    assert bad_request.field_violations[0].field == "complaint.text"
    assert "complaint.text" in (raised.value.details() or "")


def test_internal_errors_do_not_leak_details(stub: routing_pb2_grpc.RoutingServiceStub) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        stub.Route(routing_pb2.RouteRequest(complaint=routing_pb2.Complaint(text="bug")), timeout=5)
    assert "ZeroDivision" not in (raised.value.details() or "")


def test_health_is_not_serving_until_loaded(server: ServerHandle) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        check = health_pb2.HealthCheckRequest(service="linli.v1.RoutingService")
        assert health.Check(check, timeout=5).status == health_pb2.HealthCheckResponse.NOT_SERVING
        server.load_then_serve(lambda: None).join(5)
        assert health.Check(check, timeout=5).status == health_pb2.HealthCheckResponse.SERVING


def test_a_failed_load_keeps_the_server_not_serving(server: ServerHandle) -> None:
    def broken() -> None:
        raise FileNotFoundError("no model")

    server.load_then_serve(broken).join(5)
    assert isinstance(server.load_error, FileNotFoundError)
    assert not server.ready.is_set()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("invalid", errors.InvalidArgument),
        ("missing", errors.NotFound),
        ("busy", errors.ResourceExhausted),
        ("down", errors.Unavailable),
        ("bug", errors.Unavailable),  # the dependency's bug is this service's outage, not the caller's fault
    ],
)
def test_a_dependency_failure_maps_back_to_the_domain(
    stub: routing_pb2_grpc.RoutingServiceStub, text: str, expected: type[errors.LinliError]
) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        stub.Route(routing_pb2.RouteRequest(complaint=routing_pb2.Complaint(text=text)), timeout=5)
    assert isinstance(errors.from_rpc_error(raised.value, service="routing"), expected)


def test_an_unreachable_dependency_is_unavailable() -> None:
    with grpc.insecure_channel("127.0.0.1:1") as channel, pytest.raises(grpc.RpcError) as raised:
        routing_pb2_grpc.RoutingServiceStub(channel).Route(routing_pb2.RouteRequest(), timeout=2)
    mapped = errors.from_rpc_error(raised.value, service="routing")
    assert isinstance(mapped, errors.Unavailable)
    assert mapped.message.startswith("routing:")
