"""A rolling restart of three retrieval replicas on one PostgreSQL case store, under steady search and write load.

Run `python -m bench.reliability.rolling_restart`. Three retrieval servers (in this process, sharing one embedding
model) follow one case store (docs/adr/0011); clients reach them through one gRPC channel balancing round-robin over
the three ports, with client-side health checks, and retry a call refused with UNAVAILABLE up to 5 times. Meanwhile
each replica in turn is stopped gracefully (NOT_SERVING, calls in flight finish, a last snapshot) and started again
on its port, as a Kubernetes rolling update with maxUnavailable 1 does. Figures: searches and writes that failed
after their retries (target 0), attempts retried, search latency, each replica's restart-to-ready time, and how long
after the last write every replica held exactly what the store holds. Then one JSON line.
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TypeVar

import grpc
import numpy as np

from bench.reliability.figures import write_json_line, write_lines
from bench.reliability.stack import fresh_database
from linli.embedding import Embedder, create_embedder
from linli.grpc_auth import ServiceCredentials
from linli.grpc_tls import open_channel
from linli.settings import GrpcTlsSettings, ProcessSettings
from linli.v1 import cases_pb2, retrieval_pb2, retrieval_pb2_grpc
from services.retrieval.server import RetrievalDeps, RetrievalServer, create_server
from services.retrieval.settings import RetrievalSettings
from services.retrieval.store import CaseStore

ATTEMPTS = 5
Reply = TypeVar("Reply")


@dataclass
class Tally:
    """What the clients saw; shared by the load threads under one lock."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    searches: int = 0
    failed_searches: int = 0
    writes: int = 0
    failed_writes: int = 0
    retried_attempts: int = 0
    search_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class RollingFigures:
    """The scenario's outcome."""

    searches: int
    failed_searches: int
    writes: int
    failed_writes: int
    retried_attempts: int
    errors: dict[str, int]
    search_ms_p50: float
    search_ms_p99: float
    search_ms_max: float
    restart_seconds: list[float]
    converged_seconds_after_load: float


def balanced_channel(ports: list[int]) -> grpc.Channel:
    """One channel over every replica, as routing's and intake's are over a headless Service's pods: round-robin
    across those whose health check says SERVING (linli/grpc_tls.py)."""
    return open_channel("ipv4:" + ",".join(f"127.0.0.1:{port}" for port in ports), GrpcTlsSettings())


def with_retries(method: Callable[..., Reply], request: object, *, credentials: ServiceCredentials, timeout: float,
                 tally: Tally) -> Reply:  # fmt: skip
    """The call, tried again on UNAVAILABLE (a replica stopping or still loading) with a short backoff."""
    for attempt in range(ATTEMPTS):
        try:
            return method(request, metadata=credentials.metadata(), timeout=timeout)
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.UNAVAILABLE or attempt == ATTEMPTS - 1:
                raise
            with tally.lock:
                tally.retried_attempts += 1
            time.sleep(0.05 * 2**attempt)
    raise AssertionError("unreachable")


def search_steadily(
    stub: retrieval_pb2_grpc.RetrievalServiceStub,
    credentials: ServiceCredentials,
    dimension: int,
    rate: float,
    stop: threading.Event,
    tally: Tally,
) -> None:
    """Searches by random vectors at `rate` per second until `stop`."""
    rng = np.random.default_rng()
    while not stop.wait(1.0 / rate):
        vector = rng.standard_normal(dimension).astype(np.float32)
        request = retrieval_pb2.SearchCasesRequest(vector=retrieval_pb2.Embedding(values=vector.tolist()), k=5)
        started = time.perf_counter()
        try:
            with_retries(stub.SearchCases, request, credentials=credentials, timeout=5, tally=tally)
        except grpc.RpcError as error:
            with tally.lock:
                tally.failed_searches += 1
                tally.errors[error.code().name] = tally.errors.get(error.code().name, 0) + 1
            continue
        with tally.lock:
            tally.searches += 1
            tally.search_ms.append((time.perf_counter() - started) * 1000)


def write_steadily(
    stub: retrieval_pb2_grpc.RetrievalServiceStub,
    credentials: ServiceCredentials,
    interval: float,
    stop: threading.Event,
    tally: Tally,
) -> None:
    """Upserts a new case every `interval` seconds (to whichever replica the channel picks) until `stop`."""
    number = 0
    while not stop.wait(interval):
        number += 1
        case = cases_pb2.Case(
            id=f"rolling-{number}",
            complaint=f"第{number}号:楼道灯又坏了",
            resolution="已修好",
            party="property_manager",
            community="绿岛花园",
        )
        request = retrieval_pb2.UpsertCasesRequest(cases=[case])
        try:
            with_retries(stub.UpsertCases, request, credentials=credentials, timeout=10, tally=tally)
        except grpc.RpcError:
            with tally.lock:
                tally.failed_writes += 1
            continue
        with tally.lock:
            tally.writes += 1


@contextmanager
def replicas(url: str, ports: list[int], folder: Path, embedder: Embedder) -> Iterator[list[RetrievalServer]]:
    """Three replicas on fixed ports, each with its own snapshot folder; stopped at the end."""
    running = [start_replica(url, port, folder / f"replica-{n}", embedder) for n, port in enumerate(ports)]
    try:
        yield running
    finally:
        for server in running:
            server.stop(0)


def start_replica(url: str, port: int, folder: Path, embedder: Embedder) -> RetrievalServer:
    """A replica serving once caught up with the store (raises if it does not load within 120 s)."""
    settings = RetrievalSettings(
        host="127.0.0.1",
        port=port,
        metrics_port=0,
        index_dir=folder,
        seed_corpus=None,
        case_store_url=url,
        snapshot_interval_seconds=0,
        workers=8,
    )
    server = create_server(settings, RetrievalDeps(embedder=embedder), process=ProcessSettings.from_environment())
    if not server.handle.wait_ready(120):
        raise RuntimeError(f"replica on {port} did not load: {server.handle.load_error}")
    return server


def roll(
    running: list[RetrievalServer], url: str, ports: list[int], folder: Path, embedder: Embedder, settle: float
) -> list[float]:
    """Replaces each replica in turn, one down at a time; returns each one's stop-to-ready seconds."""
    seconds = []
    for n, port in enumerate(ports):
        started = time.monotonic()
        running[n].stop(5.0)
        running[n] = start_replica(url, port, folder / f"replica-{n}", embedder)
        seconds.append(round(time.monotonic() - started, 2))
        time.sleep(settle)
    return seconds


def convergence_seconds(url: str, running: list[RetrievalServer], timeout: float = 30.0) -> float:
    """How long until every replica holds exactly the store's keys."""
    store = CaseStore.from_url(url)
    started = time.monotonic()
    try:
        while time.monotonic() - started < timeout:
            live = store.live_keys()
            memories = [server.servicer.loaded_memory for server in running]
            if all(memory is not None and memory.held_keys() == live for memory in memories):
                return round(time.monotonic() - started, 3)
            time.sleep(0.05)
        return float("inf")
    finally:
        store.dispose()


def free_ports(count: int) -> list[int]:
    """`count` distinct loopback ports nobody listens on now (held open together so they differ)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def run(url: str, embedder: Embedder, *, seed_cases: int, rate: float, settle: float) -> RollingFigures:
    """The whole scenario on the store at `url`; returns the figures."""
    ports = free_ports(3)
    tally, stop = Tally(), threading.Event()
    credentials = ServiceCredentials.from_settings("rolling-restart", ProcessSettings.from_environment().auth)
    with (
        tempfile.TemporaryDirectory(prefix="linli-rolling-") as folder,
        replicas(url, ports, Path(folder), embedder) as running,
    ):
        channel = balanced_channel(ports)
        stub = retrieval_pb2_grpc.RetrievalServiceStub(channel)
        seed(stub, credentials, seed_cases, tally)
        threads = [
            threading.Thread(
                target=search_steadily, args=(stub, credentials, embedder.dimension, rate / 4, stop, tally)
            )
            for _ in range(4)
        ]
        threads.append(threading.Thread(target=write_steadily, args=(stub, credentials, 0.25, stop, tally)))
        for thread in threads:
            thread.start()
        time.sleep(settle)
        restart_seconds = roll(running, url, ports, Path(folder), embedder, settle)
        stop.set()
        for thread in threads:
            thread.join()
        converged = convergence_seconds(url, running)
        channel.close()
    latencies = np.asarray(tally.search_ms or [float("nan")])
    return RollingFigures(
        searches=tally.searches,
        failed_searches=tally.failed_searches,
        writes=tally.writes,
        failed_writes=tally.failed_writes,
        retried_attempts=tally.retried_attempts,
        errors=tally.errors,
        search_ms_p50=round(float(np.percentile(latencies, 50)), 2),
        search_ms_p99=round(float(np.percentile(latencies, 99)), 2),
        search_ms_max=round(float(latencies.max()), 2),
        restart_seconds=restart_seconds,
        converged_seconds_after_load=converged,
    )


def seed(
    stub: retrieval_pb2_grpc.RetrievalServiceStub, credentials: ServiceCredentials, count: int, tally: Tally
) -> None:
    """Writes `count` cases through the balanced channel, 64 a call."""
    for start in range(0, count, 64):
        cases = [
            cases_pb2.Case(
                id=f"seed-{i}",
                complaint=f"第{i}号:电梯停运",
                resolution="已报修",
                party="property_manager",
                community="恒康居民区",
            )
            for i in range(start, min(count, start + 64))
        ]
        request = retrieval_pb2.UpsertCasesRequest(cases=cases)
        with_retries(stub.UpsertCases, request, credentials=credentials, timeout=30, tally=tally)


def main() -> None:
    """Runs the scenario on a fresh PostgreSQL database and prints the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seed-cases", type=int, default=1000, help="cases written before the load starts")
    parser.add_argument("--rate", type=float, default=200.0, help="searches per second, all clients together")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds of load before, between and after restarts")
    args = parser.parse_args()
    # The servers and the clients are this process: a key of the run's own signs and checks their tokens.
    os.environ.setdefault("LINLI_AUTH_SECRETS", secrets.token_hex(32))
    embedder = create_embedder(RetrievalSettings().embedder_config())
    with fresh_database() as url:
        figures = run(url, embedder, seed_cases=args.seed_cases, rate=args.rate, settle=args.settle)
    write_lines(
        [
            f"searches: {figures.searches} ok, {figures.failed_searches} failed after retries (p50 "
            f"{figures.search_ms_p50} ms, p99 {figures.search_ms_p99} ms, max {figures.search_ms_max} ms)",
            f"writes: {figures.writes} ok, {figures.failed_writes} failed after retries",
            f"attempts retried on UNAVAILABLE: {figures.retried_attempts} {figures.errors or ''}",
            f"restart (stop to ready) per replica: {figures.restart_seconds} s",
            f"every replica held the store's cases {figures.converged_seconds_after_load} s after the load",
        ]
    )
    write_json_line(asdict(figures))


if __name__ == "__main__":
    main()
