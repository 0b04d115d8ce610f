"""Issue #15, finding 9: retrieval's and routing's RPCs answered anyone who reached the port, case texts included.

Every RPC of both now needs a service's or an admin's token (or an mTLS client certificate): no, forged or expired
token is UNAUTHENTICATED, a resident's or a worker's is PERMISSION_DENIED. Health and reflection stay open, and
intake's gRPC API answers no call without a token either.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from functools import partial

import grpc
import pytest
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from linli.grpc_auth import Metadata, bearer_metadata
from linli.settings import AuthSettings
from linli.tokens import TokenCodec, TokenKind
from linli.v1 import intake_pb2, retrieval_pb2, retrieval_pb2_grpc, routing_pb2, routing_pb2_grpc
from tests.integration.conftest import grpc_channel
from tests.security.conftest import CaseServices, RunningStack
from tests.tokens import resident_metadata, service_metadata, worker_metadata

CALL_SECONDS = 10.0
RETRIEVAL = retrieval_pb2.DESCRIPTOR.services_by_name["RetrievalService"]
ROUTING = routing_pb2.DESCRIPTOR.services_by_name["RoutingService"]
INTAKE = intake_pb2.DESCRIPTOR.services_by_name["IntakeService"]
COMPLAINT = "3号楼楼道的灯坏了好几天了,晚上很黑"
# What an empty request does not exercise: the probes ask the questions that return case texts.
READ_REQUESTS: dict[str, Message] = {
    "Embed": retrieval_pb2.EmbedRequest(texts=[COMPLAINT]),
    "SearchCases": retrieval_pb2.SearchCasesRequest(text=COMPLAINT, k=3),
    "BatchSearchCases": retrieval_pb2.BatchSearchCasesRequest(
        searches=[retrieval_pb2.SearchCasesRequest(text=COMPLAINT, k=3)]
    ),
    "Route": routing_pb2.RouteRequest(complaint=routing_pb2.Complaint(text=COMPLAINT, community="恒康居民区")),
    "BatchRoute": routing_pb2.BatchRouteRequest(complaints=[routing_pb2.Complaint(text=COMPLAINT)]),
}

Rpc = Callable[..., Message]


def rpcs_of(channel: grpc.Channel, service: ServiceDescriptor) -> dict[str, Rpc]:
    """Every method of `service` as a call of its probe request (an empty one unless READ_REQUESTS has one)."""
    calls: dict[str, Rpc] = {}
    for method in service.methods:
        request_type = GetMessageClass(method.input_type)
        stub_method = channel.unary_unary(
            f"/{service.full_name}/{method.name}",
            request_serializer=request_type.SerializeToString,
            response_deserializer=GetMessageClass(method.output_type).FromString,
        )
        request = READ_REQUESTS.get(method.name, request_type())
        calls[method.name] = partial(stub_method, request, timeout=CALL_SECONDS)
    return calls


@pytest.fixture(scope="module")
def retrieval_channel(case_services: CaseServices) -> Iterator[grpc.Channel]:
    with grpc_channel(case_services.retrieval_target) as channel:
        yield channel


@pytest.fixture(scope="module")
def routing_channel(case_services: CaseServices) -> Iterator[grpc.Channel]:
    with grpc_channel(case_services.routing_target) as channel:
        yield channel


@pytest.fixture(scope="module")
def every_rpc(retrieval_channel: grpc.Channel, routing_channel: grpc.Channel) -> dict[str, Rpc]:
    """Every RPC of retrieval and routing, by `Service/Method`."""
    calls = {f"RetrievalService/{name}": rpc for name, rpc in rpcs_of(retrieval_channel, RETRIEVAL).items()}
    calls |= {f"RoutingService/{name}": rpc for name, rpc in rpcs_of(routing_channel, ROUTING).items()}
    return calls


def refused_with(rpc: Rpc, metadata: Metadata) -> grpc.StatusCode:
    """The code a call is refused with; fails the test when it is answered."""
    try:
        reply = rpc(metadata=metadata)
    except grpc.RpcError as error:
        return error.code()
    pytest.fail(f"answered without the right token: {str(reply)[:300]}")


def expired_service_metadata() -> Metadata:
    """A service token, correctly signed, that expired an hour ago."""
    two_hours_ago = TokenCodec(AuthSettings().signing_keys(), clock=lambda: time.time() - 7200)
    return bearer_metadata(two_hours_ago.issue(TokenKind.SERVICE, "old-service", ttl=timedelta(hours=1))[0])


def forged_service_metadata() -> Metadata:
    """A service token signed with a key nobody configured."""
    forger = TokenCodec([b"f" * 64])
    return bearer_metadata(forger.issue(TokenKind.SERVICE, "intake-worker", ttl=timedelta(hours=1))[0])


def test_no_forged_or_expired_token_is_unauthenticated_on_every_rpc(every_rpc: dict[str, Rpc]) -> None:
    for name, rpc in every_rpc.items():
        for label, metadata in (
            ("none", ()),
            ("garbage", (("authorization", "Bearer not-a-token"),)),
            ("forged", forged_service_metadata()),
            ("expired", expired_service_metadata()),
        ):
            assert refused_with(rpc, metadata) == grpc.StatusCode.UNAUTHENTICATED, f"{name} with {label} token"


def test_residents_and_workers_are_permission_denied_on_every_rpc(every_rpc: dict[str, Rpc]) -> None:
    people = {
        "resident": resident_metadata("probe-resident"),
        "dispatcher": worker_metadata("probe-dispatcher", "street_office", "恒康居民区", "dispatcher"),
    }
    for name, rpc in every_rpc.items():
        for label, metadata in people.items():
            assert refused_with(rpc, metadata) == grpc.StatusCode.PERMISSION_DENIED, f"{name} as {label}"


def test_a_service_token_gets_the_answers(retrieval_channel: grpc.Channel, routing_channel: grpc.Channel) -> None:
    service = service_metadata("probe-service")
    search = retrieval_pb2_grpc.RetrievalServiceStub(retrieval_channel).SearchCases(
        READ_REQUESTS["SearchCases"], timeout=CALL_SECONDS, metadata=service
    )
    assert search.results
    assert search.results[0].case.complaint
    # Routing asks retrieval for similar cases with the service token it signs itself.
    decision = (
        routing_pb2_grpc.RoutingServiceStub(routing_channel)
        .Route(READ_REQUESTS["Route"], timeout=CALL_SECONDS, metadata=service)
        .decision
    )
    assert decision.alternatives
    assert decision.similar_cases


def test_health_and_reflection_stay_open(retrieval_channel: grpc.Channel, routing_channel: grpc.Channel) -> None:
    for channel, service in ((retrieval_channel, RETRIEVAL), (routing_channel, ROUTING)):
        health = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service.full_name), timeout=CALL_SECONDS
        )
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        replies = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
            iter([request]), timeout=CALL_SECONDS
        )
        listed = [entry.name for reply in replies for entry in reply.list_services_response.service]
        assert service.full_name in listed


def test_intake_grpc_answers_no_rpc_without_a_token(stack: RunningStack) -> None:
    calls = rpcs_of(stack.channel, INTAKE)
    assert len(calls) == len(INTAKE.methods)
    for name, rpc in calls.items():
        assert refused_with(rpc, ()) == grpc.StatusCode.UNAUTHENTICATED, name
