"""Calling any RPC of a linli service with generated requests, and the property every answer must have."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType

import grpc
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.harness import Callers, FuzzTally, fuzz_settings

# A hostile request may be refused for any reason the client caused; never with a server fault. UNAVAILABLE is a
# fault here too: every server under fuzz and its dependencies are up, so it would mean something broke.
ACCEPTABLE = frozenset(
    {
        grpc.StatusCode.OK,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.ABORTED,
    }
)
# Generous: the point is "answers at all"; a call that takes longer is a hang worth reporting.
CALL_SECONDS = 60.0
SHOWN_CHARS = 1500


@dataclass(frozen=True)
class Rpc:
    """One method of one service, as a client names it."""

    method: MethodDescriptor

    @property
    def label(self) -> str:
        return f"{self.method.containing_service.name}.{self.method.name}"

    @property
    def path(self) -> str:
        return f"/{self.method.containing_service.full_name}/{self.method.name}"


def rpcs_of(module: ModuleType, service: str) -> list[Rpc]:
    """Every method of `service` in a generated `*_pb2` module."""
    return [Rpc(method) for method in module.DESCRIPTOR.services_by_name[service].methods]


def _serialize(request: Message | bytes) -> bytes:
    return request if isinstance(request, bytes) else request.SerializeToString()


def call(
    channel: grpc.Channel, rpc: Rpc, request: Message | bytes, metadata: Sequence[tuple[str, str]] = ()
) -> tuple[grpc.StatusCode, str]:
    """The status code and message of one call; `request` may be raw bytes, sent as they are."""
    stub = channel.unary_unary(
        rpc.path,
        request_serializer=_serialize,
        response_deserializer=GetMessageClass(rpc.method.output_type).FromString,
    )
    try:
        stub(request, timeout=CALL_SECONDS, metadata=tuple(metadata))
    except grpc.RpcError as error:
        if not isinstance(error, grpc.Call):
            raise
        return error.code(), str(error.details())
    return grpc.StatusCode.OK, ""


def shown(request: Message | bytes) -> str:
    """A request as a failure message shows it, cut to a readable length."""
    text = repr(request) if isinstance(request, bytes) else str(request)
    return text if len(text) <= SHOWN_CHARS else f"{text[:SHOWN_CHARS]}... ({len(text)} characters)"


def fuzz_rpc(
    channel: grpc.Channel,
    rpc: Rpc,
    requests: st.SearchStrategy[Message] | st.SearchStrategy[bytes],
    callers: Callers,
    tally: FuzzTally,
    *,
    share: float = 1.0,
    prefix: str = "grpc",
) -> None:
    """Sends generated requests as every kind of caller; fails on the first answer outside ACCEPTABLE."""
    label = f"{prefix} {rpc.label}"

    @fuzz_settings(share)
    @given(request=requests, caller=st.sampled_from(sorted(callers.all().items(), key=lambda item: item[0])))
    def run(request: Message | bytes, caller: tuple[str, str | None]) -> None:
        name, authorization = caller
        metadata = () if authorization is None else (("authorization", authorization),)
        code, details = call(channel, rpc, request, metadata)
        tally.record(label, code.name)
        assert code in ACCEPTABLE, f"{rpc.label} as {name} answered {code.name} ({details}) to:\n{shown(request)}"

    run()


def assert_serving(channel: grpc.Channel) -> None:
    """The server still answers, and says it is SERVING."""
    reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=CALL_SECONDS)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
