"""Round trip of SearchCases by text through a real retrieval server: p50/p99 and requests/s at concurrency 1 and 16.

Run `python -m bench.grpc_search`. The server is `linli serve retrieval` in a child process on port 0 (so client
threads do not share its interpreter), with a fresh index folder seeded with the starter corpus and the real
m3e-small model; every request embeds its text and searches, as routing's calls do. Retrieval answers services
only: the bench signs service tokens with `LINLI_AUTH_SECRETS`, or with a random key of its own (handed to the server)
when that is unset.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path

import grpc
import numpy as np

from bench.ann_search import busy_cpu_seconds
from linli.grpc_auth import Metadata, ServiceCredentials
from linli.grpc_health import check_health
from linli.settings import GrpcTlsSettings
from linli.tokens import TokenCodec
from linli.v1 import retrieval_pb2, retrieval_pb2_grpc

STARTER_CORPUS = Path(__file__).resolve().parents[1] / "services" / "retrieval" / "corpus" / "starter_cases.jsonl"
LISTENING_MESSAGE = "retrieval listening"
RPC_TIMEOUT_SECONDS = 30.0
# Longer than any run: the bench signs one service token and sends it with every request.
TOKEN_TTL = timedelta(hours=6)


class ServerFailed(RuntimeError):
    """The retrieval server did not start or did not become SERVING."""


def _listening_address(log: Path) -> str | None:
    """host:port from the server's JSON log line that says where it listens, once written."""
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue  # a library's own non-JSON output
        if isinstance(entry, dict) and entry.get("msg") == LISTENING_MESSAGE:
            return str(entry["address"])
    return None


@dataclass(frozen=True)
class RunningServer:
    """Where the child server listens, its process id (to count the CPU it uses) and a service token it accepts."""

    target: str
    pid: int
    credentials: Metadata


@contextmanager
def retrieval_server(corpus: Path, *, backend: str, ready_seconds: float) -> Iterator[RunningServer]:
    """Runs `linli serve retrieval` on a free port until the block ends; yields it once SERVING.

    Other LINLI_RETRIEVAL_* variables of the environment (batching, sequence length) reach the server unchanged.
    """
    with tempfile.TemporaryDirectory(prefix="linli-bench-") as folder:
        log = Path(folder) / "server.log"
        env = dict(os.environ)
        env.update(
            HF_HUB_OFFLINE="1",
            LINLI_RETRIEVAL_EMBEDDING_BACKEND=backend,
            LINLI_LOG_FORMAT="json",
            LINLI_RETRIEVAL_PORT="0",
            LINLI_RETRIEVAL_INDEX_DIR=str(Path(folder) / "index"),
            LINLI_RETRIEVAL_SEED_CORPUS=str(corpus),
            LINLI_RETRIEVAL_SNAPSHOT_INTERVAL_SECONDS="0",
        )
        # A key of the bench's own unless one is set: the server and the bench's token must share it.
        env.setdefault("LINLI_AUTH_SECRETS", secrets.token_hex(32))
        codec = TokenCodec([env["LINLI_AUTH_SECRETS"].split(",")[0].strip().encode()])  # the signing key
        credentials = ServiceCredentials(codec, "bench-grpc-search", ttl=TOKEN_TTL).metadata()
        with log.open("wb") as output:
            server = subprocess.Popen(
                [sys.executable, "-m", "services.cli", "serve", "retrieval"], env=env, stdout=output, stderr=output
            )
        try:
            yield RunningServer(_wait_until_serving(server, log, ready_seconds), server.pid, credentials)
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _wait_until_serving(server: subprocess.Popen[bytes], log: Path, seconds: float) -> str:
    deadline = time.monotonic() + seconds
    target = None
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise ServerFailed(f"the server exited with {server.returncode}:\n{log.read_text(errors='replace')}")
        target = _listening_address(log)
        if target is not None:
            try:
                if check_health(target, timeout=2.0, tls=GrpcTlsSettings()) == "SERVING":
                    return target
            except grpc.RpcError:
                pass  # not answering yet
        time.sleep(0.5)
    raise ServerFailed(f"the server at {target or 'an unknown port'} was not SERVING after {seconds} s")


@dataclass(frozen=True)
class LoadResult:
    """Round trips at one concurrency."""

    concurrency: int
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    other_load: float  # cores that processes other than this benchmark and its server kept busy meanwhile

    @property
    def per_second(self) -> float:
        """Completed requests per second of wall time."""
        return (self.requests - self.errors) / self.seconds if self.seconds else 0.0


def process_cpu_seconds(pid: int) -> float:
    """User and system CPU seconds a process has used (Linux)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_load(
    stub: retrieval_pb2_grpc.RetrievalServiceStub,
    texts: Sequence[str],
    *,
    concurrency: int,
    requests: int,
    max_seconds: float,
    server_pid: int,
    credentials: Metadata,
) -> LoadResult:
    """`requests` SearchCases calls from `concurrency` threads, each waiting for its answer before the next.

    No request starts after `max_seconds`, so a slow machine bounds the run instead of stretching it.
    """
    latencies: list[float] = []
    errors = [0]
    issued = iter(range(requests))
    lock = threading.Lock()
    deadline = time.monotonic() + max_seconds

    def worker() -> None:
        while time.monotonic() < deadline:
            with lock:
                number = next(issued, None)
            if number is None:
                return
            request = retrieval_pb2.SearchCasesRequest(text=texts[number % len(texts)], k=10)
            started = time.perf_counter()
            try:
                reply = stub.SearchCases(request, timeout=RPC_TIMEOUT_SECONDS, metadata=credentials)
                failed = not reply.results
            except grpc.RpcError:
                failed = True
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                errors[0] += failed

    ours_before = time.process_time() + process_cpu_seconds(server_pid)
    busy_before, started = busy_cpu_seconds(), time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for future in [pool.submit(worker) for _ in range(concurrency)]:
            future.result()
    seconds = time.perf_counter() - started
    ours = time.process_time() + process_cpu_seconds(server_pid) - ours_before
    other_load = max(busy_cpu_seconds() - busy_before - ours, 0.0) / seconds
    p50, p99 = np.percentile(latencies, [50, 99]) * 1000 if latencies else (float("nan"), float("nan"))
    return LoadResult(concurrency, len(latencies), errors[0], seconds, float(p50), float(p99), other_load)


def read_texts(corpus: Path) -> list[str]:
    """The complaints of a JSONL corpus, used as search texts (short, like residents' messages)."""
    with corpus.open(encoding="utf-8") as lines:
        return [json.loads(line)["complaint"] for line in lines if line.strip()]


def _positive_ints(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from error
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def build_parser() -> argparse.ArgumentParser:
    """The command line of the benchmark."""
    parser = argparse.ArgumentParser(prog="python -m bench.grpc_search", description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=_positive_ints, default=[1, 16], help="client threads, e.g. 1,16")
    parser.add_argument("--requests", type=int, default=400, help="requests per concurrency level")
    parser.add_argument("--max-seconds", type=float, default=120.0, help="stop issuing requests after this")
    parser.add_argument("--warmup", type=int, default=20, help="untimed requests first")
    parser.add_argument("--corpus", type=Path, default=STARTER_CORPUS, help="seeds the index; complaints are queries")
    parser.add_argument(
        "--embedding-backend",
        choices=["torch", "onnx-int8"],
        default=os.environ.get("LINLI_RETRIEVAL_EMBEDDING_BACKEND", "torch"),
        help="the server's LINLI_RETRIEVAL_EMBEDDING_BACKEND",
    )
    parser.add_argument("--ready-seconds", type=float, default=300.0, help="how long the server may take to load")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Starts the server, measures each concurrency, prints the figures; 1 if the server or any request failed."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.requests < 1 or args.max_seconds <= 0:
        parser.error("--requests and --max-seconds must be positive")
    texts = read_texts(args.corpus)
    print(
        f"gRPC SearchCases by text, k=10: {len(texts)} cases from {args.corpus.name}, m3e-small "
        f"({args.embedding_backend})",
        flush=True,
    )
    started = time.monotonic()
    try:
        with retrieval_server(args.corpus, backend=args.embedding_backend, ready_seconds=args.ready_seconds) as server:
            print(f"retrieval SERVING at {server.target} after {time.monotonic() - started:.1f} s", flush=True)
            with grpc.insecure_channel(server.target) as channel:
                stub = retrieval_pb2_grpc.RetrievalServiceStub(channel)
                load = partial(
                    run_load,
                    stub,
                    texts,
                    max_seconds=args.max_seconds,
                    server_pid=server.pid,
                    credentials=server.credentials,
                )
                load(concurrency=1, requests=args.warmup)
                results = [load(concurrency=c, requests=args.requests) for c in args.concurrency]
    except ServerFailed as error:
        print(f"retrieval server failed: {error}", file=sys.stderr)
        return 1
    print(f"{'concurrency':>11} {'requests':>8} {'errors':>6} {'p50':>10} {'p99':>10} {'req/s':>7} {'other load':>10}")
    for result in results:
        print(
            f"{result.concurrency:>11} {result.requests:>8} {result.errors:>6} {result.p50_ms:>7.1f} ms "
            f"{result.p99_ms:>7.1f} ms {result.per_second:>7.1f} {result.other_load:>4.2f} cores"
        )
    return 1 if any(result.errors for result in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
