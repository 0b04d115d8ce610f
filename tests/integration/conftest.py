"""Real servers for integration tests: retrieval (real model, a slice of the corpus), routing, intake, Celery."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx
import pytest
import uvicorn

from linli.embedding import SentenceTransformerEmbedder
from linli.grpc_serving import ServerHandle
from linli.settings import ProcessSettings
from services.intake.ratelimit import RateLimiter
from services.intake.server import IntakeDeps, IntakeServer
from services.intake.server import create_server as create_intake
from services.intake.settings import IntakeSettings
from services.retrieval.server import RetrievalDeps
from services.retrieval.server import create_server as create_retrieval
from services.retrieval.settings import RetrievalSettings
from services.routing.server import create_server as create_routing
from tests.conftest import free_port
from tests.local_servers import intake_config, routing_settings

READY_SECONDS = 120.0


def wait_until(condition: Callable[[], bool], *, seconds: float, what: str) -> None:
    """Polls `condition` until true; fails the test saying what never happened."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out after {seconds} s waiting for {what}")


# Cases per catalog entry in the integration tests' corpus: enough for every entry to have precedents and for the
# router to learn all three parties, few enough that the servers start in seconds, not minutes.
CASES_PER_ENTRY = 5


@pytest.fixture(scope="session")
def corpus_slice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first few cases of each catalog entry of the packaged corpus, as a JSONL file."""
    source = Path(__file__).resolve().parents[2] / "services" / "retrieval" / "corpus" / "resolved_cases.jsonl"
    taken: dict[str, int] = {}
    lines = []
    for line in source.read_text(encoding="utf-8").splitlines():
        category = json.loads(line)["category"]
        if taken.get(category, 0) < CASES_PER_ENTRY:
            taken[category] = taken.get(category, 0) + 1
            lines.append(line)
    path = tmp_path_factory.mktemp("corpus") / "cases.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def retrieval_server(
    embedder: SentenceTransformerEmbedder, tmp_path_factory: pytest.TempPathFactory, corpus_slice: Path
) -> Iterator[ServerHandle]:
    """Retrieval on a free port with the real model, seeded with a slice of the packaged corpus."""
    settings = RetrievalSettings(
        host="127.0.0.1", port=0, index_dir=tmp_path_factory.mktemp("index"), seed_corpus=corpus_slice
    )
    server = create_retrieval(settings, RetrievalDeps(embedder=embedder), process=ProcessSettings.from_environment())
    assert server.handle.wait_ready(READY_SECONDS), f"retrieval did not load: {server.handle.load_error}"
    yield server.handle
    server.stop(0)


@pytest.fixture(scope="session")
def routing_server(
    retrieval_server: ServerHandle, corpus_slice: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerHandle]:
    """Routing on a free port, asking the retrieval server above; it trains its model on the slice at start."""
    settings = routing_settings(
        retrieval_server.port,
        tmp_path_factory.mktemp("models") / "routing",
        train_corpus=corpus_slice,
        # A model trained on the slice tunes its threshold on a few hundred hard cases and abstains on much;
        # these tests are about the pipeline, so they route at a fixed confidence (test_router covers the tuning).
        min_confidence=0.6,
    )
    handle = create_routing(settings, process=ProcessSettings.from_environment())
    assert handle.wait_ready(READY_SECONDS), f"routing did not become ready: {handle.load_error}"
    yield handle
    handle.stop(0)


@dataclass
class RunningIntake:
    """Intake serving gRPC and HTTP, as a resident's phone and a worker's console reach it."""

    server: IntakeServer
    settings: IntakeSettings
    http: httpx.Client

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.server.grpc.port}"


def intake_settings_for(
    database_url: str, redis_url: str, routing_port: int, retrieval_port: int, **overrides: object
) -> IntakeSettings:
    """Intake settings for a test: free ports, quick retries (tokens are signed with the run's LINLI_AUTH_SECRETS)."""
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "http_port": free_port(),
        "grpc_port": 0,
        "database_url": database_url,
        "broker_url": redis_url,
        "routing_target": f"127.0.0.1:{routing_port}",
        "retrieval_target": f"127.0.0.1:{retrieval_port}",
        "triage_max_retries": 2,
        "triage_retry_backoff_seconds": 0.2,
        **overrides,
    }
    return IntakeSettings.model_validate(values)


@pytest.fixture
def intake_settings(
    database_url: str, redis_url: str, routing_server: ServerHandle, retrieval_server: ServerHandle
) -> IntakeSettings:
    """Intake on the real ticket database (SQLite and PostgreSQL) with Redis as the broker."""
    return intake_settings_for(database_url, redis_url, routing_server.port, retrieval_server.port)


@pytest.fixture
def postgres_intake_settings(
    postgres_url: str, redis_url: str, routing_server: ServerHandle, retrieval_server: ServerHandle
) -> IntakeSettings:
    """Intake on a fresh PostgreSQL database (production's store) with Redis as the broker."""
    return intake_settings_for(postgres_url, redis_url, routing_server.port, retrieval_server.port)


@contextmanager
def running_intake(settings: IntakeSettings, deps: IntakeDeps | None = None) -> Iterator[RunningIntake]:
    """Intake's gRPC server and its HTTP API under uvicorn on `settings.http_port`, stopped on exit.

    Every test client calls from 127.0.0.1: rate limits are off unless `deps` brings a limiter.
    """
    deps = deps or IntakeDeps()
    if deps.limiter is None:
        deps.limiter = RateLimiter.unlimited()
    server = create_intake(intake_config(settings), deps)
    assert server.grpc.wait_ready(READY_SECONDS), f"intake did not become ready: {server.grpc.load_error}"
    config = uvicorn.Config(server.http, host="127.0.0.1", port=settings.http_port, log_config=None, access_log=False)
    http_server = uvicorn.Server(config)
    thread = threading.Thread(target=http_server.run, daemon=True)
    thread.start()
    wait_until(lambda: http_server.started, seconds=30, what="uvicorn to start")
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{settings.http_port}", timeout=10) as client:
            yield RunningIntake(server, settings, client)
    finally:
        http_server.should_exit = True
        thread.join(10)
        server.grpc.stop(0)
        server.database.dispose()


@pytest.fixture
def intake(intake_settings: IntakeSettings) -> Iterator[RunningIntake]:
    """Intake's gRPC server and its HTTP API under uvicorn on a free port."""
    with running_intake(intake_settings) as running:
        yield running


def _env_value(value: object) -> str:
    # What pydantic-settings reads back: JSON for lists and mappings, empty for an unset optional.
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return json.dumps(
            value, ensure_ascii=False, default=lambda v: v.model_dump() if hasattr(v, "model_dump") else str(v)
        )
    return str(value)


def settings_env(settings: IntakeSettings) -> dict[str, str]:
    """The environment that gives a child process these intake settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LINLI_INTAKE_", "LINLI_NOTIFY_"))}
    for name in IntakeSettings.model_fields:
        env[f"LINLI_INTAKE_{name.upper()}"] = _env_value(getattr(settings, name))
    env["LINLI_LOG_FORMAT"] = "text"
    return env


class ChildProcesses:
    """Starts `linli <role>` child processes with given intake settings; stops every one at the end."""

    def __init__(self, log_dir: Path) -> None:
        self._log_dir = log_dir
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, role: str, settings: IntakeSettings) -> subprocess.Popen[bytes]:
        """Starts `linli worker` or `linli beat` with `settings`, logging to the test's folder."""
        log = (self._log_dir / f"{role}-{len(self.started)}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "services.cli", role], env=settings_env(settings), stdout=log, stderr=log
        )
        self.started.append(process)
        return process

    def stop_all(self) -> None:
        """SIGTERM (a warm shutdown), then SIGKILL for what does not stop within 20 s."""
        for process in self.started:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


@pytest.fixture
def children(tmp_path: Path) -> Iterator[ChildProcesses]:
    """Child processes (workers, beat) of one test."""
    processes = ChildProcesses(tmp_path)
    yield processes
    processes.stop_all()


@pytest.fixture
def start_worker(intake_settings: IntakeSettings, children: ChildProcesses) -> Callable[[], subprocess.Popen[bytes]]:
    """Starts real Celery triage workers (`linli worker`) as child processes; all are stopped afterwards."""
    return lambda: children.start("worker", intake_settings)


def grpc_channel(target: str) -> grpc.Channel:
    """An insecure channel to a local test server."""
    return grpc.insecure_channel(target)
