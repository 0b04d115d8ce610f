"""One intake for the whole suite, run as its own process (`services.intake.server.main`, as production runs it)
on a fresh PostgreSQL database and Redis broker, with the rate limits on; tests reach it only over HTTP and gRPC.

Intake's routing and retrieval are not started: the probes need no triage (tickets wait in the queue), and the few
states a probe needs (routed, merged) are set in the database the test owns. The probes of retrieval's and
routing's own RPCs get the pair in a process of their own (`case_services`, tests/security/case_services.py).
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx
import pytest
import redis
from sqlalchemy import Engine, create_engine, text

from linli.grpc_health import check_health
from linli.settings import GrpcTlsSettings
from services.intake.settings import IntakeSettings
from tests.conftest import SECURITY_REDIS_SLOT, free_port, fresh_postgres_database, redis_db
from tests.integration.conftest import grpc_channel, intake_settings_for, settings_env, wait_until
from tests.tokens import as_resident

START_SECONDS = 60.0
COMMUNITY = "恒康居民区"
INTAKE_MAIN = "from services.intake.server import main; raise SystemExit(main())"
CASE_SERVICES_MODULE = "tests.security.case_services"


@dataclass
class RunningStack:
    """An intake process and the database behind it."""

    settings: IntakeSettings
    http: httpx.Client
    channel: grpc.Channel
    database: Engine

    def submit(self, resident: str, text_: str = "3号楼楼道的灯坏了好几天了,晚上很黑") -> str:
        """A new ticket of `resident`; returns its id."""
        reply = self.http.post(
            "/v1/tickets", json={"text": text_, "community": COMMUNITY}, headers=as_resident(resident)
        )
        assert reply.status_code == 201, reply.text
        return str(reply.json()["id"])

    def set_state(self, ticket_id: str, **columns: object) -> None:
        """Puts a ticket in the state a probe needs (triage is not running here)."""
        # Column names come from the test's own keyword arguments; values are bound.
        assignments = ", ".join(f"{name} = :{name}" for name in columns)
        statement = text(f"UPDATE tickets SET {assignments} WHERE id = :id")  # noqa: S608
        with self.database.begin() as connection:
            connection.execute(statement, {**columns, "id": ticket_id})


def start_intake(settings: IntakeSettings, log: Path, **environment: str) -> subprocess.Popen[bytes]:
    """Intake's own entry point in a child process, with `settings` (and extra variables) as its environment."""
    env = settings_env(settings) | environment
    with log.open("ab") as output:
        process = subprocess.Popen([sys.executable, "-c", INTAKE_MAIN], env=env, stdout=output, stderr=output)

    def ready() -> bool:
        if process.poll() is not None:
            pytest.fail(f"intake exited with {process.returncode}: {log.read_text(errors='replace')[-2000:]}")
        try:
            return httpx.get(f"http://127.0.0.1:{settings.http_port}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(ready, seconds=START_SECONDS, what="intake's /readyz")
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 20 s."""
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def security_database(postgres_server_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database for the suite's intake, dropped afterwards."""
    with fresh_postgres_database(postgres_server_url, "linli_security") as url:
        yield url


@pytest.fixture(scope="session")
def security_settings(security_database: str, redis_base_url: str) -> IntakeSettings:
    """Intake on the suite's database; routing and retrieval point at ports nobody serves."""
    broker = f"{redis_base_url}/{redis_db(SECURITY_REDIS_SLOT)}"  # its rate-limit counters are its own
    redis.Redis.from_url(broker).flushdb()
    return intake_settings_for(security_database, broker, free_port(), free_port(), grpc_port=free_port())


@pytest.fixture(scope="session")
def stack(security_settings: IntakeSettings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """The suite's running intake (rate limits at their defaults: X-Forwarded-For trusted from nobody)."""
    log = tmp_path_factory.mktemp("security") / "intake.log"
    process = start_intake(security_settings, log)
    engine = create_engine(security_settings.database_url)
    try:
        with (
            httpx.Client(base_url=f"http://127.0.0.1:{security_settings.http_port}", timeout=10) as client,
            grpc_channel(f"127.0.0.1:{security_settings.grpc_port}") as channel,
        ):
            yield RunningStack(security_settings, client, channel, engine)
    finally:
        stop(process)
        engine.dispose()


@pytest.fixture
def fresh_id() -> Callable[[str], str]:
    """Ids nobody used before in this run (residents and workers have limits of their own)."""
    return lambda prefix: f"{prefix}-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class CaseServices:
    """Where the suite's retrieval and routing listen."""

    retrieval_target: str
    routing_target: str


@pytest.fixture(scope="session")
def case_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CaseServices]:
    """Retrieval and routing serving in a child process (hash embedder, small model), SERVING before the probes."""
    folder = tmp_path_factory.mktemp("case-services")
    ports = free_port(), free_port()
    log = folder / "services.log"
    command = [sys.executable, "-m", CASE_SERVICES_MODULE, str(folder / "index"), str(folder / "model")]
    with log.open("wb") as output:
        process = subprocess.Popen([*command, *map(str, ports)], stdout=output, stderr=output)
    services = CaseServices(f"127.0.0.1:{ports[0]}", f"127.0.0.1:{ports[1]}")

    def serving() -> bool:
        if process.poll() is not None:
            pytest.fail(f"case services exited with {process.returncode}: {log.read_text(errors='replace')[-2000:]}")
        try:
            return check_health(services.routing_target, timeout=1, tls=GrpcTlsSettings()) == "SERVING"
        except grpc.RpcError:
            return False

    try:
        wait_until(serving, seconds=START_SECONDS, what="routing (and retrieval behind it) to be SERVING")
        yield services
    finally:
        stop(process)
