"""Real servers for integration tests: retrieval (real model, starter corpus), routing, intake, a Celery worker."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx
import pytest
import uvicorn

from linli.grpc_serving import ServerHandle
from linli.settings import IntakeSettings, RetrievalSettings, RoutingSettings
from services.intake.server import IntakeServer
from services.intake.server import create_server as create_intake
from services.retrieval.embedder import SentenceTransformerEmbedder
from services.retrieval.server import RetrievalDeps
from services.retrieval.server import create_server as create_retrieval
from services.routing.server import create_server as create_routing
from tests.conftest import free_port

READY_SECONDS = 120.0


def wait_until(condition: Callable[[], bool], *, seconds: float, what: str) -> None:
    """Polls `condition` until true; fails the test saying what never happened."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out after {seconds} s waiting for {what}")


@pytest.fixture(scope="session")
def retrieval_server(
    embedder: SentenceTransformerEmbedder, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerHandle]:
    """Retrieval on a free port with the real model, seeded with the starter corpus."""
    settings = RetrievalSettings(host="127.0.0.1", port=0, index_dir=tmp_path_factory.mktemp("index"))
    server = create_retrieval(settings, RetrievalDeps(embedder=embedder))
    assert server.handle.wait_ready(READY_SECONDS), f"retrieval did not load: {server.handle.load_error}"
    yield server.handle
    server.stop(0)


@pytest.fixture(scope="session")
def routing_server(retrieval_server: ServerHandle) -> Iterator[ServerHandle]:
    """Routing on a free port, asking the retrieval server above."""
    settings = RoutingSettings(host="127.0.0.1", port=0, retrieval_target=f"127.0.0.1:{retrieval_server.port}")
    handle = create_routing(settings)
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


@pytest.fixture
def intake_settings(database_url: str, redis_url: str, routing_server: ServerHandle) -> IntakeSettings:
    """Intake on the real ticket database (SQLite and PostgreSQL) with Redis as the broker."""
    return IntakeSettings(
        host="127.0.0.1",
        http_port=free_port(),
        grpc_port=0,
        database_url=database_url,
        broker_url=redis_url,
        routing_target=f"127.0.0.1:{routing_server.port}",
        triage_max_retries=2,
        triage_retry_backoff_seconds=0.2,
    )


@pytest.fixture
def intake(intake_settings: IntakeSettings) -> Iterator[RunningIntake]:
    """Intake's gRPC server and its HTTP API under uvicorn on a free port."""
    server = create_intake(intake_settings)
    assert server.grpc.wait_ready(READY_SECONDS), f"intake did not become ready: {server.grpc.load_error}"
    config = uvicorn.Config(
        server.http, host="127.0.0.1", port=intake_settings.http_port, log_config=None, access_log=False
    )
    http_server = uvicorn.Server(config)
    thread = threading.Thread(target=http_server.run, daemon=True)
    thread.start()
    wait_until(lambda: http_server.started, seconds=30, what="uvicorn to start")
    with httpx.Client(base_url=f"http://127.0.0.1:{intake_settings.http_port}", timeout=10) as client:
        yield RunningIntake(server, intake_settings, client)
    http_server.should_exit = True
    thread.join(10)
    server.grpc.stop(0)
    server.database.dispose()


def settings_env(settings: IntakeSettings) -> dict[str, str]:
    """The environment that gives a child process these intake settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_INTAKE_")}
    for name in IntakeSettings.model_fields:
        env[f"LINLI_INTAKE_{name.upper()}"] = str(getattr(settings, name))
    env["LINLI_LOG_FORMAT"] = "text"
    return env


@pytest.fixture
def start_worker(intake_settings: IntakeSettings, tmp_path: Path) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    """Starts real Celery triage workers (`linli worker`) as child processes; all are stopped afterwards."""
    started: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        log = (tmp_path / f"worker-{len(started)}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "linli.cli", "worker"], env=settings_env(intake_settings), stdout=log, stderr=log
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def grpc_channel(target: str) -> grpc.Channel:
    """An insecure channel to a local test server."""
    return grpc.insecure_channel(target)
