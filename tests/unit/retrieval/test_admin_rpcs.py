"""The service-only interceptor: every RPC of retrieval needs a service's or an admin's token; health stays open."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from functools import partial

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from linli.grpc_auth import (
    Metadata,
    ServiceCredentials,
    admin_metadata,
    bearer_metadata,
    has_verified_client_certificate,
    service_only_interceptor,
)
from linli.grpc_serving import build_server
from linli.settings import AuthSettings, GrpcTlsSettings
from linli.tokens import TokenCodec, TokenKind
from linli.v1 import retrieval_pb2, retrieval_pb2_grpc
from services.retrieval.server import SERVICE, SERVICE_NAME
from services.retrieval.servicer import RetrievalServicer
from tests.tokens import resident_metadata, service_metadata, worker_metadata


@pytest.fixture
def stub() -> Iterator[retrieval_pb2_grpc.RetrievalServiceStub]:
    """A retrieval server with nothing loaded: what gets past the interceptor answers UNAVAILABLE."""
    servicer = RetrievalServicer()
    handle = build_server(
        host="127.0.0.1",
        port=0,
        workers=2,
        service_names=[SERVICE_NAME],
        register=lambda server: retrieval_pb2_grpc.add_RetrievalServiceServicer_to_server(servicer, server),
        interceptors=[service_only_interceptor(SERVICE, TokenCodec.from_settings(AuthSettings()))],
        tls=GrpcTlsSettings(),
    )
    with grpc.insecure_channel(f"127.0.0.1:{handle.port}") as channel:
        yield retrieval_pb2_grpc.RetrievalServiceStub(channel)
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.NOT_SERVING  # health stays open (nothing loaded)
    handle.stop(0)


def code(call: object) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as raised:
        call()  # type: ignore[operator]
    return raised.value.code(), raised.value.details() or ""


def every_rpc(stub: retrieval_pb2_grpc.RetrievalServiceStub) -> dict[str, Callable[..., object]]:
    """Each method of the service, called with empty requests and the given metadata."""
    return {
        method.name: partial(getattr(stub, method.name), getattr(retrieval_pb2, method.input_type.name)(), timeout=5)
        for method in SERVICE.methods
    }


def expired_metadata() -> Metadata:
    past = TokenCodec(AuthSettings().signing_keys(), clock=lambda: time.time() - 3600)
    return bearer_metadata(past.issue(TokenKind.SERVICE, "old", ttl=timedelta(minutes=5))[0])


def test_every_method_refuses_callers_without_a_valid_token(stub: retrieval_pb2_grpc.RetrievalServiceStub) -> None:
    forged = (("authorization", "Bearer forged.token"),)
    for name, rpc in every_rpc(stub).items():
        for metadata in ((), forged, expired_metadata()):
            assert code(partial(rpc, metadata=metadata))[0] == grpc.StatusCode.UNAUTHENTICATED, name


def test_every_method_refuses_residents_and_workers(stub: retrieval_pb2_grpc.RetrievalServiceStub) -> None:
    dispatcher = worker_metadata("d-1", "street_office", "恒康居民区", "dispatcher")
    for name, rpc in every_rpc(stub).items():
        for metadata in (resident_metadata("r-1"), dispatcher):
            status, details = code(partial(rpc, metadata=metadata))
            assert status == grpc.StatusCode.PERMISSION_DENIED, name
            assert f"{name} needs an admin worker's or a service's token" in details


@pytest.mark.parametrize("who", ["admin", "service"])
def test_every_method_lets_admins_and_services_through(stub: retrieval_pb2_grpc.RetrievalServiceStub, who: str) -> None:
    metadata = worker_metadata("a-1", "street_office", role="admin") if who == "admin" else service_metadata()
    for name, rpc in every_rpc(stub).items():
        assert code(partial(rpc, metadata=metadata))[0] == grpc.StatusCode.UNAVAILABLE, name  # the index is not loaded


class _Peer:
    """The parts of a ServicerContext the mTLS check reads."""

    def __init__(self, auth: dict[str, list[bytes]], identities: list[bytes] | None) -> None:
        self._auth, self._identities = auth, identities

    def auth_context(self) -> dict[str, list[bytes]]:
        return self._auth

    def peer_identities(self) -> list[bytes] | None:
        return self._identities


def test_only_a_verified_client_certificate_counts_as_a_service() -> None:
    ssl = {"transport_security_type": [b"ssl"]}
    assert has_verified_client_certificate(_Peer(ssl, [b"routing"]))  # type: ignore[arg-type]
    assert not has_verified_client_certificate(_Peer(ssl, None))  # type: ignore[arg-type]  # server-only TLS
    assert not has_verified_client_certificate(_Peer({}, None))  # type: ignore[arg-type]  # plaintext


def test_service_credentials_renew_before_expiry() -> None:
    now = [1_800_000_000.0]
    codec = TokenCodec(AuthSettings().signing_keys(), clock=lambda: now[0])
    credentials = ServiceCredentials(codec, "intake-worker", ttl=timedelta(minutes=5), clock=lambda: now[0])
    first = credentials.metadata()
    assert credentials.metadata() == first  # cached
    now[0] += 5 * 60 - 20  # inside the renewal margin
    renewed = credentials.metadata()
    assert renewed != first
    token = renewed[0][1].removeprefix("Bearer ")
    claims = codec.verify(token)
    assert (claims.kind, claims.subject) == (TokenKind.SERVICE, "intake-worker")


def test_the_cli_sends_the_admin_token_or_signs_one(monkeypatch: pytest.MonkeyPatch) -> None:
    signed = admin_metadata("linli-cli", AuthSettings())
    claims = TokenCodec.from_settings(AuthSettings()).verify(signed[0][1].removeprefix("Bearer "))
    assert claims.is_admin
    monkeypatch.setenv("LINLI_AUTH_ADMIN_TOKEN", "given-token")
    assert admin_metadata("linli-cli", AuthSettings()) == (("authorization", "Bearer given-token"),)
