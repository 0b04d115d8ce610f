"""Retrieval servers as replicas of one PostgreSQL case store: writes to any, found on every other within 2 s."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy import create_engine

from linli.settings import ProcessSettings
from linli.v1 import cases_pb2, retrieval_pb2, retrieval_pb2_grpc
from services.retrieval.server import RetrievalDeps, RetrievalServer, create_server, follow_store
from services.retrieval.store import FEED_BATCH, CaseStore, Change
from tests.local_servers import retrieval_settings
from tests.tokens import service_metadata
from tests.unit.fakes import HashEmbedder

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def start_replica(url: str, folder: Path, store: CaseStore | None = None) -> RetrievalServer:
    settings = retrieval_settings(folder, None, case_store_url=url, follow_interval_seconds=0.2, workers=4)
    deps = RetrievalDeps(embedder=HashEmbedder(), store=store)
    return create_server(settings, deps, process=ProcessSettings.from_environment())


@pytest.fixture
def replicas(postgres_url: str, tmp_path: Path) -> Iterator[list[RetrievalServer]]:
    servers = [start_replica(postgres_url, tmp_path / f"replica-{n}") for n in range(2)]
    for server in servers:
        assert server.handle.wait_ready(30), server.handle.load_error
    yield servers
    for server in servers:
        server.stop(0)


def stub_of(server: RetrievalServer) -> retrieval_pb2_grpc.RetrievalServiceStub:
    return retrieval_pb2_grpc.RetrievalServiceStub(grpc.insecure_channel(f"127.0.0.1:{server.handle.port}"))


def health_of(server: RetrievalServer) -> int:
    with grpc.insecure_channel(f"127.0.0.1:{server.handle.port}") as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        return int(reply.status)


def found_ids(stub: retrieval_pb2_grpc.RetrievalServiceStub, text: str) -> list[str]:
    request = retrieval_pb2.SearchCasesRequest(text=text, k=3)
    reply = stub.SearchCases(request, metadata=service_metadata(), timeout=5)
    return [hit.case.id for hit in reply.results]


def test_a_case_upserted_on_one_replica_is_found_on_the_other_within_2_s(replicas: list[RetrievalServer]) -> None:
    writer, reader = (stub_of(server) for server in replicas)
    case = cases_pb2.Case(
        id="lift-1",
        complaint="三号楼电梯停运三天了",
        resolution="已报修",
        party="property_manager",
        community="绿岛花园",
    )
    writer.UpsertCases(retrieval_pb2.UpsertCasesRequest(cases=[case]), metadata=service_metadata(), timeout=5)
    written_at = time.monotonic()
    while "lift-1" not in found_ids(reader, "三号楼电梯停运三天了"):
        waited = time.monotonic() - written_at
        assert waited < 2.0, f"the other replica did not catch up within 2 s ({waited:.2f} s)"
        time.sleep(0.05)
    reader.DeleteCases(retrieval_pb2.DeleteCasesRequest(case_ids=["lift-1"]), metadata=service_metadata(), timeout=5)
    deleted_at = time.monotonic()
    while "lift-1" in found_ids(writer, "三号楼电梯停运三天了"):
        waited = time.monotonic() - deleted_at
        assert waited < 2.0, f"the delete did not reach the other replica within 2 s ({waited:.2f} s)"
        time.sleep(0.05)


class GatedStore(CaseStore):
    """A case store whose change feed answers only once the gate opens: a replica that is still catching up."""

    def __init__(self, url: str) -> None:
        super().__init__(create_engine(url))
        self.gate = threading.Event()

    def changes_since(self, seq: int, limit: int = FEED_BATCH) -> list[Change]:
        self.gate.wait(30)
        return super().changes_since(seq, limit)


def test_a_replica_is_not_serving_until_it_has_caught_up(postgres_url: str, tmp_path: Path) -> None:
    gated = GatedStore(postgres_url)
    server = start_replica(postgres_url, tmp_path / "gated", gated)
    try:
        time.sleep(1.0)
        assert health_of(server) == NOT_SERVING
        gated.gate.set()
        assert server.handle.wait_ready(30), server.handle.load_error
        assert health_of(server) == SERVING
    finally:
        gated.gate.set()
        server.stop(0)


class FlakyFeed:
    """A memory whose change feed fails while `broken` is set."""

    def __init__(self) -> None:
        self.broken = threading.Event()

    def catch_up(self) -> None:
        if self.broken.is_set():
            raise ConnectionError("case store unreachable")


def test_a_replica_that_cannot_read_the_feed_turns_not_serving_until_it_can() -> None:
    memory, stop, reported = FlakyFeed(), threading.Event(), list[bool]()
    memory.broken.set()
    args = (memory, 0.01, stop, reported.append, 0.2)
    follower = threading.Thread(target=follow_store, args=args, daemon=True)
    follower.start()
    try:
        time.sleep(0.1)
        assert reported == []  # a short outage is tolerated
        time.sleep(0.3)
        assert reported == [False]
        memory.broken.clear()
        time.sleep(0.1)
        assert reported == [False, True]
    finally:
        stop.set()
        follower.join(5)
