"""Round trip of SearchCases by text through a real retrieval server: p50/p99 and requests/s at concurrency 1 and 16.

Run `python -m bench.grpc_search`. The server is `linli serve retrieval` in a child process on port 0 (so client
threads do not share its interpreter), with a fresh index folder seeded with the starter corpus and the real
m3e-small model; every request embeds its text and searches, as routing's calls do. Retrieval answers services
only: the bench signs service tokens with `LINLI_AUTH_SECRETS`, or with a random key of its own (handed to the server)
when that is unset.

The server's own CPU per call is reported too. `--cases 20000` serves a case store of the packaged cases and
synthetic variations (bench/synthetic_cases.py) instead, `--filtered` asks for resolved cases of one community (as
intake and routing do), `--by-vector` sends vectors embedded beforehand (so the figure is the search's, not the
model's), and `--compare-with /path/to/other/checkout` runs that checkout's server beside this one on the same store,
alternating rounds, to compare two versions in one run (`--rounds`, medians reported).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path

import grpc
import numpy as np

from bench.ann_search import busy_cpu_seconds
from bench.synthetic_cases import PACKAGED_CORPUS, fill_case_store
from linli.grpc_auth import Metadata, ServiceCredentials
from linli.grpc_health import check_health
from linli.settings import GrpcTlsSettings
from linli.tokens import TokenCodec
from linli.v1 import cases_pb2, retrieval_pb2, retrieval_pb2_grpc
from services.intake.settings import IntakeSettings
from services.retrieval.settings import RetrievalSettings

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
def retrieval_server(
    corpus: Path, *, backend: str, ready_seconds: float, store: Path | None = None, code: Path | None = None
) -> Iterator[RunningServer]:
    """Runs `linli serve retrieval` on a free port until the block ends; yields it once SERVING.

    Other LINLI_RETRIEVAL_* variables of the environment (batching, sequence length) reach the server unchanged.

    Args:
        corpus: seeds the empty index (unless `store` is given).
        store: a case store (SQLite file) the server gets a copy of, instead of seeding.
        code: the checkout whose server runs (default: this one's).
    """
    with tempfile.TemporaryDirectory(prefix="linli-bench-") as folder:
        log = Path(folder) / "server.log"
        index = Path(folder) / "index"
        index.mkdir()
        if store is not None:
            shutil.copyfile(store, index / "cases.sqlite")
        env = dict(os.environ)
        env.update(
            HF_HUB_OFFLINE="1",
            LINLI_RETRIEVAL_EMBEDDING_BACKEND=backend,
            LINLI_LOG_FORMAT="json",
            LINLI_RETRIEVAL_PORT="0",
            LINLI_RETRIEVAL_INDEX_DIR=str(index),
            LINLI_RETRIEVAL_SEED_CORPUS="" if store is not None else str(corpus),
            LINLI_RETRIEVAL_SNAPSHOT_INTERVAL_SECONDS="0",
        )
        if code is not None:
            env["PYTHONPATH"] = str(code)
        # A key of the bench's own unless one is set: the server and the bench's token must share it.
        env.setdefault("LINLI_AUTH_SECRETS", secrets.token_hex(32))
        codec = TokenCodec([env["LINLI_AUTH_SECRETS"].split(",")[0].strip().encode()])  # the signing key
        credentials = ServiceCredentials(codec, "bench-grpc-search", ttl=TOKEN_TTL).metadata()
        with log.open("wb") as output:
            server = subprocess.Popen(
                [sys.executable, "-m", "services.cli", "serve", "retrieval"],
                env=env,
                stdout=output,
                stderr=output,
                cwd=code,
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
    server_cpu_seconds: float = 0.0  # what the server process used meanwhile

    @property
    def server_cpu_ms_per_call(self) -> float:
        """The server's CPU milliseconds per request."""
        return self.server_cpu_seconds * 1000 / self.requests if self.requests else float("nan")

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
    request_of: Callable[[int], retrieval_pb2.SearchCasesRequest],
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
            request = request_of(number)
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

    client_before, server_before = time.process_time(), process_cpu_seconds(server_pid)
    busy_before, started = busy_cpu_seconds(), time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for future in [pool.submit(worker) for _ in range(concurrency)]:
            future.result()
    seconds = time.perf_counter() - started
    server = process_cpu_seconds(server_pid) - server_before
    ours = time.process_time() - client_before + server
    other_load = max(busy_cpu_seconds() - busy_before - ours, 0.0) / seconds
    p50, p99 = np.percentile(latencies, [50, 99]) * 1000 if latencies else (float("nan"), float("nan"))
    return LoadResult(concurrency, len(latencies), errors[0], seconds, float(p50), float(p99), other_load, server)


def read_queries(corpus: Path) -> list[tuple[str, str]]:
    """(complaint, community) of each case of a JSONL corpus: search texts as short as residents' messages."""
    with corpus.open(encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines if line.strip()]
    return [(row["complaint"], row["community"]) for row in rows]


def embedded(server: RunningServer, texts: Sequence[str]) -> list[list[float]]:
    """The server's vectors of `texts`, 64 to a call."""
    with grpc.insecure_channel(server.target) as channel:
        stub = retrieval_pb2_grpc.RetrievalServiceStub(channel)
        vectors: list[list[float]] = []
        for start in range(0, len(texts), 64):
            request = retrieval_pb2.EmbedRequest(texts=list(texts[start : start + 64]))
            reply = stub.Embed(request, timeout=RPC_TIMEOUT_SECONDS, metadata=server.credentials)
            vectors.extend(list(row.values) for row in reply.embeddings)
    return vectors


def search_requests(
    queries: Sequence[tuple[str, str]], *, filtered: bool, vectors: Sequence[list[float]] | None
) -> list[retrieval_pb2.SearchCasesRequest]:
    """k=10 by text (or its vector), optionally for the resolved cases of the query's own community."""
    requests = []
    for number, (text, community) in enumerate(queries):
        request = retrieval_pb2.SearchCasesRequest(k=10)
        if vectors is not None:
            request.vector.values.extend(vectors[number])
        else:
            request.text = text
        if filtered:
            request.filter.CopyFrom(cases_pb2.CaseFilter(resolved_only=True, community=community))
        requests.append(request)
    random.Random(7).shuffle(requests)  # the corpus is in category order; residents are not
    return requests


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
        default=RetrievalSettings().embedding_backend,
        help="the server's LINLI_RETRIEVAL_EMBEDDING_BACKEND; default: the configured one, as the services run",
    )
    parser.add_argument("--ready-seconds", type=float, default=300.0, help="how long the server may take to load")
    parser.add_argument(
        "--cases", type=int, default=0, help="serve a synthetic store of this many cases (queries: packaged corpus)"
    )
    parser.add_argument("--filtered", action="store_true", help="resolved cases of the query's community only")
    parser.add_argument("--by-vector", action="store_true", help="send vectors embedded beforehand, not texts")
    parser.add_argument("--compare-with", type=Path, help="another checkout whose server is measured beside this one")
    parser.add_argument("--rounds", type=int, default=1, help="measurements of each server, alternating")
    return parser


def _print_results(results: dict[str, list[LoadResult]]) -> None:
    print(
        f"{'server':>24} {'concurrency':>11} {'requests':>8} {'errors':>6} {'p50':>10} {'p99':>10} {'req/s':>7} "
        f"{'server CPU/call':>15} {'other load':>10}"
    )
    for name, rounds in results.items():
        for concurrency in sorted({result.concurrency for result in rounds}):
            runs = [result for result in rounds if result.concurrency == concurrency]
            cpu = [f"{result.server_cpu_ms_per_call:.2f}" for result in runs]
            print(
                f"{name[-24:]:>24} {concurrency:>11} {sum(r.requests for r in runs):>8} "
                f"{sum(r.errors for r in runs):>6} {np.median([r.p50_ms for r in runs]):>7.1f} ms "
                f"{np.median([r.p99_ms for r in runs]):>7.1f} ms {np.median([r.per_second for r in runs]):>7.1f} "
                f"{np.median([r.server_cpu_ms_per_call for r in runs]):>10.2f} ms "
                f"{np.median([r.other_load for r in runs]):>4.2f} cores  (rounds: {', '.join(cpu)} ms)"
            )


def _measure(
    servers: dict[str, RunningServer], requests: Sequence[retrieval_pb2.SearchCasesRequest], args: argparse.Namespace
) -> dict[str, list[LoadResult]]:
    """Each server's results, the servers taking turns at every round (and the first in turn changing)."""
    results: dict[str, list[LoadResult]] = {name: [] for name in servers}
    channels = {name: grpc.insecure_channel(server.target) for name, server in servers.items()}
    try:
        for number in range(args.rounds):
            order = list(servers)[number % len(servers) :] + list(servers)[: number % len(servers)]
            for name in order:
                load = partial(
                    run_load,
                    retrieval_pb2_grpc.RetrievalServiceStub(channels[name]),
                    lambda n: requests[n % len(requests)],
                    max_seconds=args.max_seconds,
                    server_pid=servers[name].pid,
                    credentials=servers[name].credentials,
                )
                if number == 0:
                    load(concurrency=1, requests=args.warmup)
                results[name].extend(load(concurrency=c, requests=args.requests) for c in args.concurrency)
    finally:
        for channel in channels.values():
            channel.close()
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Starts the server(s), measures each concurrency, prints the figures; 1 if a server or any request failed."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.requests < 1 or args.max_seconds <= 0 or args.rounds < 1 or args.cases < 0:
        parser.error("--requests, --max-seconds and --rounds must be positive, --cases not negative")
    corpus = PACKAGED_CORPUS if args.cases else args.corpus
    queries = read_queries(corpus)
    print(
        f"gRPC SearchCases by {'vector' if args.by_vector else 'text'}, k=10"
        f"{', resolved of one community' if args.filtered else ''}: {args.cases or len(queries)} cases, queries from "
        f"{corpus.name}, m3e-small ({args.embedding_backend})",
        flush=True,
    )
    try:
        with tempfile.TemporaryDirectory(prefix="linli-bench-store-") as folder, ExitStack() as stack:
            store = None
            if args.cases:
                communities = list(IntakeSettings().known_communities)
                fill_case_store(Path(folder), args.cases, backend=args.embedding_backend, communities=communities)
                store = Path(folder) / "cases.sqlite"
            servers: dict[str, RunningServer] = {}
            checkouts: list[tuple[str, Path | None]] = [("this checkout", None)]
            if args.compare_with is not None:
                checkouts.append((str(args.compare_with), args.compare_with))
            for name, code in checkouts:
                started = time.monotonic()
                server = retrieval_server(
                    corpus, backend=args.embedding_backend, ready_seconds=args.ready_seconds, store=store, code=code
                )
                servers[name] = stack.enter_context(server)
                print(f"{name}: SERVING after {time.monotonic() - started:.1f} s", flush=True)
            first = next(iter(servers.values()))
            vectors = embedded(first, [text for text, _ in queries]) if args.by_vector else None
            results = _measure(servers, search_requests(queries, filtered=args.filtered, vectors=vectors), args)
    except ServerFailed as error:
        print(f"retrieval server failed: {error}", file=sys.stderr)
        return 1
    _print_results(results)
    return 1 if any(result.errors for rounds in results.values() for result in rounds) else 0


if __name__ == "__main__":
    raise SystemExit(main())
