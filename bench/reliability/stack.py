"""The whole linli stack as child processes on free ports: a fresh database, its own Redis, every role restartable.

Roles: `redis` (a `redis-server` of its own that keeps nothing across a restart, unless the machine's Redis is
asked for), `retrieval`, `routing`, `intake` (HTTP and gRPC), `worker-<n>` (Celery) and `beat`. Each role keeps
its port across restarts, as a Kubernetes Service keeps its address. bench/triage_burst.py and tests/reliability/
start their stacks here too.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.reliability.processes import Role, Supervisor
from linli.grpc_health import check_health
from linli.settings import GrpcTlsSettings
from services.intake.settings import IntakeSettings, RateLimitSettings
from services.retrieval.settings import RetrievalSettings
from services.routing.settings import RoutingSettings

POSTGRES = os.environ.get("LINLI_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
READY_SECONDS = 300.0
# Triage threads of a worker as shipped (LINLI_INTAKE_WORKER_CONCURRENCY's default): every bench runs it unless told.
SHIPPED_WORKER_CONCURRENCY: int = IntakeSettings.model_fields["worker_concurrency"].default

# The benchmarks' Redis databases on the machine's server, emptied by each: the suite takes 15 down to 4
# (tests/conftest.py redis_db) and a developer's stack 0, so a benchmark never empties a running test's queues.
BENCH_REDIS_DATABASES = (1, 2, 3)
BENCH_REDIS = f"redis://127.0.0.1:6379/{BENCH_REDIS_DATABASES[0]}"
# The harness is one client address sending what thousands of phones would: limits this high never bite, and the
# limiter still counts every request in Redis as in production.
HIGH_RATE_LIMIT = 1_000_000


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def progress(tool: str, message: str) -> None:
    """A progress line on stderr, so stdout holds only the figures."""
    sys.stderr.write(f"[{tool}] {message}\n")
    sys.stderr.flush()


@contextmanager
def fresh_database(kind: str = "postgres") -> Iterator[str]:
    """A fresh ticket database URL: PostgreSQL (created, then dropped) or a SQLite file in a temporary folder."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="linli-db-") as folder:
            yield f"sqlite:///{folder}/tickets.sqlite"
        return
    name = f"linli_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass(frozen=True)
class StackConfig:
    """What to start: worker processes and threads, the embedding backend, the corpus and extra settings."""

    workers: int = 1
    worker_concurrency: int = SHIPPED_WORKER_CONCURRENCY
    embedding_backend: str = "onnx-int8"
    # Seed of retrieval and training set of routing; None: the packaged corpus (1,275 cases).
    corpus: Path | None = None
    # None: the threshold routing tuned at training.
    min_confidence: float | None = None
    beat: bool = True
    # None: a redis-server of the stack's own (restartable); else this URL (emptied first).
    redis_url: str | None = None
    # Further LINLI_* settings, e.g. short sweep intervals for a fault run.
    settings: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Addresses:
    """Where each role answers."""

    http: str
    intake: str
    retrieval: str
    routing: str
    redis: str


def _ports() -> dict[str, int]:
    return {name: free_port() for name in ("http", "intake", "retrieval", "routing", "redis")}


def _addresses(ports: dict[str, int], redis_url: str | None) -> Addresses:
    return Addresses(
        http=f"http://127.0.0.1:{ports['http']}",
        intake=f"127.0.0.1:{ports['intake']}",
        retrieval=f"127.0.0.1:{ports['retrieval']}",
        routing=f"127.0.0.1:{ports['routing']}",
        redis=redis_url or f"redis://127.0.0.1:{ports['redis']}/0",
    )


def stack_environment(config: StackConfig, database_url: str, folder: Path, addresses: Addresses) -> dict[str, str]:
    """The environment every role of the stack runs with: nothing of the caller's LINLI_* settings leaks in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_")}
    env.update(HF_HUB_OFFLINE="1", LINLI_LOG_FORMAT="text", LINLI_LOG_LEVEL="WARNING")
    # One signing key per stack; residents log in with the development verifier (`dev:<openid>`, loopback only).
    env.update(LINLI_AUTH_SECRETS=secrets.token_hex(32), LINLI_AUTH_RESIDENT_VERIFIER="dev")
    env.update(
        {
            f"LINLI_RATE_{name.upper()}": str(HIGH_RATE_LIMIT)
            for name in RateLimitSettings.model_fields
            if name.endswith("_per_minute")
        }
    )
    env.update(
        {
            "LINLI_RETRIEVAL_PORT": addresses.retrieval.rsplit(":", 1)[1],
            "LINLI_RETRIEVAL_INDEX_DIR": str(folder / "index"),
            "LINLI_RETRIEVAL_EMBEDDING_BACKEND": config.embedding_backend,
            "LINLI_ROUTING_PORT": addresses.routing.rsplit(":", 1)[1],
            "LINLI_ROUTING_RETRIEVAL_TARGET": addresses.retrieval,
            "LINLI_ROUTING_MODEL_DIR": str(folder / "models" / "routing"),
            # A burst queues calls at retrieval: measure their waiting rather than deadlines cutting it short.
            "LINLI_ROUTING_RPC_TIMEOUT_SECONDS": "30",
            "LINLI_INTAKE_RPC_TIMEOUT_SECONDS": "30",
            "LINLI_INTAKE_HTTP_PORT": addresses.http.rsplit(":", 1)[1],
            "LINLI_INTAKE_GRPC_PORT": addresses.intake.rsplit(":", 1)[1],
            "LINLI_INTAKE_DATABASE_URL": database_url,
            "LINLI_INTAKE_BROKER_URL": addresses.redis,
            "LINLI_INTAKE_ROUTING_TARGET": addresses.routing,
            "LINLI_INTAKE_RETRIEVAL_TARGET": addresses.retrieval,
            "LINLI_INTAKE_WORKER_CONCURRENCY": str(config.worker_concurrency),
            "LINLI_INTAKE_BEAT_SCHEDULE_FILE": str(folder / "celerybeat-schedule"),
        }
    )
    if config.corpus is not None:
        env["LINLI_RETRIEVAL_SEED_CORPUS"] = env["LINLI_ROUTING_TRAIN_CORPUS"] = str(config.corpus)
    if config.min_confidence is not None:
        env["LINLI_ROUTING_MIN_CONFIDENCE"] = str(config.min_confidence)
    # Each process's own metrics endpoint on a free port, so that nothing collides with another stack.
    for prefix, settings in (
        ("LINLI_RETRIEVAL_", RetrievalSettings),
        ("LINLI_ROUTING_", RoutingSettings),
        ("LINLI_INTAKE_", IntakeSettings),
    ):
        env.update({f"{prefix}{name.upper()}": "0" for name in settings.model_fields if name.endswith("metrics_port")})
    env.update(config.settings)
    return env


def _linli(name: str, args: list[str], env: dict[str, str]) -> Role:
    return Role(name, (sys.executable, "-m", "services.cli", *args), env)


def _redis_role(port: int) -> Role:
    # Keeps nothing on disk: after a restart the broker is empty and the ticket database is the only record.
    command = ("redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
    return Role("redis", command, dict(os.environ))


class Stack:
    """A running stack: its supervisor, addresses and database URL; kill, restart and readiness by role name."""

    def __init__(self, config: StackConfig, database_url: str, folder: Path) -> None:
        self.config = config
        self.database_url = database_url
        self.folder = folder
        self.supervisor = Supervisor(folder)
        self._ports = _ports()
        self.addresses = _addresses(self._ports, config.redis_url)
        self.env = stack_environment(config, database_url, folder, self.addresses)

    @property
    def workers(self) -> list[str]:
        """Names of the Celery worker roles."""
        return [f"worker-{n}" for n in range(self.config.workers)]

    def start(self) -> None:
        """Starts every role (Redis first, then the services in dependency order, then the Celery processes)."""
        if self.config.redis_url is None:
            if shutil.which("redis-server") is None:
                raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
            self.supervisor.start(_redis_role(self._ports["redis"]))
        else:
            redis.Redis.from_url(self.config.redis_url).flushdb()
        self.supervisor.start(_linli("retrieval", ["serve", "retrieval"], self.env))
        self.supervisor.start(_linli("routing", ["serve", "routing"], self.env))
        self.supervisor.start(_linli("intake", ["serve", "intake"], self.env))
        for name in self.workers:
            self.supervisor.start(_linli(name, ["worker"], self.env))
        if self.config.beat:
            self.supervisor.start(_linli("beat", ["beat"], self.env))

    def wait_ready(self, seconds: float = READY_SECONDS) -> float:
        """Waits until Redis, retrieval, routing and intake answer as ready; returns how long that took."""
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            self.supervisor.check_alive()
            if self.ready():
                return time.monotonic() - started
            time.sleep(0.5)
        raise RuntimeError(f"the stack was not ready after {seconds:.0f} s; logs in {self.folder}")

    def ready(self) -> bool:
        """True when Redis answers PING, both gRPC services are SERVING and intake's /readyz is 200."""
        try:
            if not redis.Redis.from_url(self.addresses.redis, socket_connect_timeout=1).ping():
                return False
            targets = (self.addresses.retrieval, self.addresses.routing)
            if any(check_health(target, timeout=2, tls=GrpcTlsSettings()) != "SERVING" for target in targets):
                return False
            return httpx.get(f"{self.addresses.http}/readyz", timeout=2).status_code == 200
        except Exception:  # not listening (yet): any failure means not ready
            return False

    def kill(self, name: str) -> None:
        """SIGKILL one role."""
        self.supervisor.kill(name)

    def restart(self, name: str) -> None:
        """Starts a killed role again, on the same port with the same settings."""
        self.supervisor.restart(name)

    def stop(self) -> None:
        """Stops every role."""
        self.supervisor.stop()


@contextmanager
def running_stack(
    config: StackConfig, folder: Path, database_url: str, *, ready_seconds: float = READY_SECONDS
) -> Iterator[Stack]:
    """A started, ready stack on `database_url` (see `fresh_database`); every role stopped on exit."""
    stack = Stack(config, database_url, folder)
    try:
        stack.start()
        stack.wait_ready(ready_seconds)
        yield stack
    finally:
        stack.stop()
