"""Fixtures shared by every layer: the real embedding model, Redis, PostgreSQL and free ports."""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from linli.embedding import SentenceTransformerEmbedder
from services.retrieval.settings import RetrievalSettings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Every server refuses to start without token keys: the test run makes its own, random, and its child processes
# inherit it. Residents log in with the development verifier (the servers of the tests bind 127.0.0.1).
os.environ.setdefault("LINLI_AUTH_SECRETS", secrets.token_hex(32))
os.environ.setdefault("LINLI_AUTH_RESIDENT_VERIFIER", "dev")
# Photos uploaded to the servers of the tests land in a folder of the run's own, not in the checkout's var/uploads;
# the process that made it (xdist's controller: its workers inherit the variable) removes it when the run ends.
if "LINLI_UPLOADS_FOLDER" not in os.environ:
    os.environ["LINLI_UPLOADS_FOLDER"] = tempfile.mkdtemp(prefix="linli-test-uploads-")
    atexit.register(shutil.rmtree, os.environ["LINLI_UPLOADS_FOLDER"], ignore_errors=True)

DEFAULT_REDIS = "redis://127.0.0.1:6379"
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
# Redis databases of the tests, counted down from 15, far from the 0 a developer's own stack uses: each pytest-xdist
# worker (`make test` runs one per core) takes three of its own, so no worker flushes another's queue or counters.
REDIS_DBS_PER_WORKER = 3
TESTS_REDIS_SLOT, SECURITY_REDIS_SLOT, BROWSER_REDIS_SLOT = range(REDIS_DBS_PER_WORKER)


def redis_db(slot: int) -> int:
    """This worker's Redis database for `slot` (one of the *_REDIS_SLOT): 15, 14, 13 for the first worker (or a run
    without workers), 12, 11, 10 for the second, and so on; 0 stays a developer's."""
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
    number = 15 - REDIS_DBS_PER_WORKER * worker - slot
    if number < 1:
        raise RuntimeError(f"too many pytest-xdist workers for Redis's 16 databases (worker {worker})")
    return number


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def embedder() -> SentenceTransformerEmbedder:
    """The real m3e-small model, loaded once for the whole run."""
    return SentenceTransformerEmbedder(RetrievalSettings().resolved_model_path())


def _redis_answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture(scope="session")
def redis_base_url() -> Iterator[str]:
    """Redis on 127.0.0.1:6379 when it answers; else a redis-server started here (installed if root must)."""
    if _redis_answers(DEFAULT_REDIS):
        yield DEFAULT_REDIS
        return
    if shutil.which("redis-server") is None and os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "-q", "redis-server"], check=False, capture_output=True)
    if shutil.which("redis-server") is None:
        pytest.fail("no Redis: none answers on 127.0.0.1:6379 and redis-server is not installed")
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}"
    for _ in range(50):
        if _redis_answers(url):
            break
        time.sleep(0.1)
    yield url
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def redis_url(redis_base_url: str) -> str:
    """A Redis database emptied for this test."""
    url = f"{redis_base_url}/{redis_db(TESTS_REDIS_SLOT)}"
    redis.Redis.from_url(url).flushdb()
    return url


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    """PostgreSQL on 127.0.0.1:5432 (database `test`), or a skip saying it does not answer."""
    url = os.environ.get("LINLI_TEST_POSTGRES_URL", DEFAULT_POSTGRES)
    try:
        with create_engine(url).connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:
        pytest.skip(f"PostgreSQL does not answer at {url}: {error}")
    return url


@contextlib.contextmanager
def fresh_postgres_database(server_url: str, prefix: str) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database on `server_url`, dropped when the block ends."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def postgres_url(postgres_server_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    with fresh_postgres_database(postgres_server_url, "linli_test") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each ticket-store test runs on SQLite (the embedded default) and on PostgreSQL (production)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tickets.sqlite'}"
    return str(request.getfixturevalue("postgres_url"))
