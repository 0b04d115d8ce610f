"""Channels between services spread calls over every replica a target resolves to, and skip one not serving."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator

import grpc
import pytest

from linli.clients.retrieval import RetrievalClient
from linli.grpc_health import check_health
from linli.grpc_serving import ServerHandle, build_server
from linli.grpc_tls import open_channel
from linli.settings import GrpcTlsSettings
from linli.v1 import retrieval_pb2, retrieval_pb2_grpc

pytestmark = pytest.mark.integration
SERVICE = "linli.v1.RetrievalService"


class NamedReplica(retrieval_pb2_grpc.RetrievalServiceServicer):
    """Answers GetIndexStats with its own name, so the caller can tell which replica took each call."""

    def __init__(self, name: str) -> None:
        self._name = name

    def GetIndexStats(  # noqa: N802 - the generated servicer's name
        self, request: retrieval_pb2.GetIndexStatsRequest, context: grpc.ServicerContext
    ) -> retrieval_pb2.GetIndexStatsResponse:
        return retrieval_pb2.GetIndexStatsResponse(index_type=self._name)


def start_replica(name: str) -> ServerHandle:
    handle = build_server(
        host="127.0.0.1",
        port=0,
        workers=4,
        service_names=[SERVICE],
        register=lambda server: retrieval_pb2_grpc.add_RetrievalServiceServicer_to_server(NamedReplica(name), server),
        tls=GrpcTlsSettings(),
    )
    handle.set_serving(True)
    return handle


@pytest.fixture
def replicas() -> Iterator[dict[str, ServerHandle]]:
    started = {name: start_replica(name) for name in ("a", "b")}
    yield started
    for handle in started.values():
        handle.stop(grace=0)


@pytest.fixture
def client(replicas: dict[str, ServerHandle]) -> Iterator[RetrievalClient]:
    # What a headless Service's name resolves to: one address per replica.
    target = "ipv4:" + ",".join(f"127.0.0.1:{handle.port}" for handle in replicas.values())
    with open_channel(target, GrpcTlsSettings()) as channel:
        yield RetrievalClient(channel, timeout_seconds=5.0, credentials=lambda: ())


def answered_by(client: RetrievalClient, calls: int) -> Counter[str]:
    return Counter(client.index_stats().index_type for _ in range(calls))


def eventually(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_calls_are_spread_over_every_serving_replica(client: RetrievalClient) -> None:
    # The first calls may all go to whichever replica connected first; soon both take turns.
    assert eventually(lambda: set(answered_by(client, 10)) == {"a", "b"})
    spread = answered_by(client, 40)
    assert spread["a"] >= 15, spread
    assert spread["b"] >= 15, spread


def test_a_replica_not_serving_gets_no_calls_until_it_serves_again(
    client: RetrievalClient, replicas: dict[str, ServerHandle]
) -> None:
    assert eventually(lambda: set(answered_by(client, 10)) == {"a", "b"})
    replicas["b"].set_serving(False)  # reloading its index, say
    assert eventually(lambda: set(answered_by(client, 10)) == {"a"})
    assert answered_by(client, 40) == Counter({"a": 40})
    replicas["b"].set_serving(True)
    assert eventually(lambda: set(answered_by(client, 10)) == {"a", "b"})


def test_a_replica_stopping_for_a_rolling_update_fails_no_call(
    client: RetrievalClient, replicas: dict[str, ServerHandle]
) -> None:
    assert eventually(lambda: set(answered_by(client, 10)) == {"a", "b"})
    answers: Counter[str] = Counter()
    failures: list[Exception] = []
    done = threading.Event()

    def call_until_done() -> None:
        while not done.is_set():
            try:
                answers[client.index_stats().index_type] += 1
            except Exception as error:  # counted: the test asserts there are none
                failures.append(error)

    caller = threading.Thread(target=call_until_done)
    caller.start()
    try:
        time.sleep(0.3)
        replicas["a"].stop(grace=2.0)  # NOT_SERVING first, then calls in flight finish
        answers.clear()
        time.sleep(0.5)
    finally:
        done.set()
        caller.join()
    assert failures == []
    assert answers["b"] > 0
    assert answers["a"] == 0


def test_a_health_check_still_reaches_a_replica_that_is_not_serving(replicas: dict[str, ServerHandle]) -> None:
    replicas["a"].set_serving(False)
    assert check_health(f"127.0.0.1:{replicas['a'].port}", tls=GrpcTlsSettings()) == "NOT_SERVING"
