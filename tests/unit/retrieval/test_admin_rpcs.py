"""The admin interceptor: catalog and model operations need an admin worker's or a service's token; reads do not."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import grpc
import pytest

from linli.grpc_auth import ServiceCredentials, admin_interceptor, admin_metadata
from linli.grpc_serving import build_server
from linli.settings import AuthSettings, GrpcTlsSettings
from linli.tokens import TokenCodec, TokenKind
from linli.v1 import retrieval_pb2, retrieval_pb2_grpc
from services.retrieval.server import ADMIN_METHODS, SERVICE_NAME
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
        interceptors=[admin_interceptor(SERVICE_NAME, ADMIN_METHODS, TokenCodec.from_settings(AuthSettings()))],
        tls=GrpcTlsSettings(),
    )
    with grpc.insecure_channel(f"127.0.0.1:{handle.port}") as channel:
        yield retrieval_pb2_grpc.RetrievalServiceStub(channel)
    handle.stop(0)


def code(call: object) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as raised:
        call()  # type: ignore[operator]
    return raised.value.code(), raised.value.details() or ""


def test_admin_methods_refuse_anonymous_residents_and_plain_workers(
    stub: retrieval_pb2_grpc.RetrievalServiceStub,
) -> None:
    snapshot = retrieval_pb2.SnapshotIndexRequest()
    assert code(lambda: stub.SnapshotIndex(snapshot, timeout=5))[0] == grpc.StatusCode.UNAUTHENTICATED
    bogus = (("authorization", "Bearer forged.token"),)
    assert code(lambda: stub.SnapshotIndex(snapshot, timeout=5, metadata=bogus))[0] == grpc.StatusCode.UNAUTHENTICATED
    dispatcher = worker_metadata("d-1", "street_office", "恒康居民区", "dispatcher")
    status, details = code(lambda: stub.SnapshotIndex(snapshot, timeout=5, metadata=dispatcher))
    assert status == grpc.StatusCode.PERMISSION_DENIED
    assert "SnapshotIndex needs an admin" in details
    upsert = retrieval_pb2.UpsertCasesRequest()
    resident = resident_metadata("r-1")
    assert code(lambda: stub.UpsertCases(upsert, timeout=5, metadata=resident))[0] == grpc.StatusCode.PERMISSION_DENIED


@pytest.mark.parametrize("who", ["admin", "service"])
def test_admin_methods_let_admins_and_services_through(stub: retrieval_pb2_grpc.RetrievalServiceStub, who: str) -> None:
    metadata = worker_metadata("a-1", "street_office", role="admin") if who == "admin" else service_metadata()
    for call in (
        lambda: stub.SnapshotIndex(retrieval_pb2.SnapshotIndexRequest(), timeout=5, metadata=metadata),
        lambda: stub.ReloadIndex(retrieval_pb2.ReloadIndexRequest(), timeout=5, metadata=metadata),
        lambda: stub.DeleteCases(retrieval_pb2.DeleteCasesRequest(case_ids=["x"]), timeout=5, metadata=metadata),
    ):
        assert code(call)[0] == grpc.StatusCode.UNAVAILABLE  # past the interceptor: the index is not loaded


def test_reads_stay_open(stub: retrieval_pb2_grpc.RetrievalServiceStub) -> None:
    assert code(lambda: stub.GetIndexStats(retrieval_pb2.GetIndexStatsRequest(), timeout=5))[0] == (
        grpc.StatusCode.UNAVAILABLE
    )


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
