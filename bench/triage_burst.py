"""A burst of 1,000 tickets over HTTP through the whole stack: submitted/s, triaged/s, submit→routed p50/p99, errors.

Run `python -m bench.triage_burst`. The stack runs as child processes, as in production: `linli serve retrieval`
(real m3e-small, fresh index seeded with the starter corpus), `linli serve routing`, `linli serve intake` and
`--workers` Celery workers, on the machine's Redis (database 14, emptied) and PostgreSQL (a fresh database, dropped
afterwards; SQLite with `--database sqlite`). Complaints are the resolved-case corpus's texts in their own
communities, shuffled with a fixed seed; the index never holds them, so every ticket is routed by its neighbours.
Times are the servers' own: a ticket's `created_at` and the time of its first triage event.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import numpy as np
import redis
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from linli.cli import check_health
from linli.settings import IntakeSettings, RetrievalSettings, RoutingSettings
from services.intake.database import Database
from services.intake.tickets.models import Ticket, TicketEvent

ROOT = Path(__file__).resolve().parents[1]
COMPLAINTS = ROOT / "services" / "retrieval" / "corpus" / "resolved_cases.jsonl"
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REDIS = "redis://127.0.0.1:6379/14"
TRIAGE_EVENTS = ("routed", "needs_manual", "merged")
READY_SECONDS = 300.0
STOP_SECONDS = 30.0


@dataclass(frozen=True)
class Submitted:
    """One POST: the ticket id (empty on failure), how long it took, and what went wrong."""

    ticket_id: str
    seconds: float
    error: str = ""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _say(message: str) -> None:
    sys.stderr.write(f"[triage_burst] {message}\n")
    sys.stderr.flush()


@contextmanager
def _database(kind: str) -> Iterator[str]:
    """A fresh ticket database URL: PostgreSQL (created, then dropped) or a SQLite file in a temporary folder."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="linli-burst-db-") as folder:
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


class Stack:
    """The child processes of the stack; stops them all, front first, on exit."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self._folder = folder
        self._env = env
        self._children: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, args: list[str], extra: dict[str, str] | None = None) -> None:
        log = (self._folder / f"{name}.log").open("wb")
        command = [sys.executable, "-m", "linli.cli", *args]
        env = {**self._env, **(extra or {})}
        self._children.append((name, subprocess.Popen(command, env=env, stdout=log, stderr=log)))  # noqa: S603

    def check_alive(self) -> None:
        for name, child in self._children:
            if child.poll() is not None:
                raise RuntimeError(f"{name} exited with {child.returncode}; see {self._folder / name}.log")

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time (user + system) each child used so far, from /proc; empty where /proc is missing."""
        ticks = os.sysconf("SC_CLK_TCK")
        used: dict[str, float] = {}
        for name, child in self._children:
            try:
                fields = Path(f"/proc/{child.pid}/stat").read_text().rsplit(") ", 1)[1].split()
            except (OSError, IndexError):
                continue
            used[name] = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
        return used

    def stop(self) -> None:
        for _, child in self._children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for _, child in self._children:
            try:
                child.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def _environment(database_url: str, index_dir: Path) -> tuple[dict[str, str], dict[str, str]]:
    """The stack's environment, and the addresses it serves on (all on free ports)."""
    ports = {name: _free_port() for name in ("http", "intake", "retrieval", "routing")}
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_")}
    env.update(HF_HUB_OFFLINE="1", LINLI_LOG_FORMAT="text", LINLI_LOG_LEVEL="WARNING")
    values = {
        "LINLI_RETRIEVAL_PORT": str(ports["retrieval"]),
        "LINLI_RETRIEVAL_INDEX_DIR": str(index_dir),
        "LINLI_ROUTING_PORT": str(ports["routing"]),
        "LINLI_ROUTING_RETRIEVAL_TARGET": f"127.0.0.1:{ports['retrieval']}",
        # A burst queues calls at retrieval: the bench measures their waiting, not deadlines cutting it short.
        "LINLI_ROUTING_RPC_TIMEOUT_SECONDS": "30",
        "LINLI_INTAKE_RPC_TIMEOUT_SECONDS": "30",
        "LINLI_INTAKE_HTTP_PORT": str(ports["http"]),
        "LINLI_INTAKE_GRPC_PORT": str(ports["intake"]),
        "LINLI_INTAKE_DATABASE_URL": database_url,
        "LINLI_INTAKE_BROKER_URL": REDIS,
        "LINLI_INTAKE_ROUTING_TARGET": f"127.0.0.1:{ports['routing']}",
        "LINLI_INTAKE_RETRIEVAL_TARGET": f"127.0.0.1:{ports['retrieval']}",
    }
    # Each process's own metrics endpoint, where the settings have one: free ports, so nothing collides.
    for prefix, settings in (
        ("LINLI_RETRIEVAL_", RetrievalSettings),
        ("LINLI_ROUTING_", RoutingSettings),
        ("LINLI_INTAKE_", IntakeSettings),
    ):
        for field in settings.model_fields:
            if field.endswith("metrics_port"):
                values[f"{prefix}{field.upper()}"] = "0"
    env.update(values)
    addresses = {"http": f"http://127.0.0.1:{ports['http']}", "routing": f"127.0.0.1:{ports['routing']}"}
    return env, addresses


def _wait_ready(stack: Stack, addresses: dict[str, str]) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        stack.check_alive()
        try:
            routing = check_health(addresses["routing"], timeout=2) == "SERVING"
            intake = httpx.get(f"{addresses['http']}/readyz", timeout=2).status_code == 200
        except Exception:  # not listening yet
            routing = intake = False
        if routing and intake:
            return
        time.sleep(1)
    raise RuntimeError("the stack did not become ready in time")


def _complaints(count: int, communities: set[str]) -> list[dict[str, str]]:
    rows = [json.loads(line) for line in COMPLAINTS.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [row for row in rows if row["community"] in communities]
    random.Random(5).shuffle(rows)
    return [
        {
            "text": rows[n % len(rows)]["complaint"],
            "community": rows[n % len(rows)]["community"],
            "building": rows[n % len(rows)].get("building", ""),
            "resident_id": f"bench-{n}",
        }
        for n in range(count)
    ]


def _submit_all(base_url: str, bodies: list[dict[str, str]], concurrency: int) -> tuple[list[Submitted], float]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    local = threading.local()

    def submit(body: dict[str, str]) -> Submitted:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(base_url=base_url, timeout=30, limits=limits)
        started = time.perf_counter()
        try:
            reply = client.post("/v1/tickets", json=body)
        except httpx.HTTPError as error:
            return Submitted("", time.perf_counter() - started, f"{type(error).__name__}: {error}")
        seconds = time.perf_counter() - started
        if reply.status_code != 201:
            return Submitted("", seconds, f"HTTP {reply.status_code}: {reply.text[:200]}")
        return Submitted(str(reply.json()["id"]), seconds)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(submit, bodies))
    return results, time.perf_counter() - started


def _triage_times(database: Database, ids: list[str]) -> dict[str, tuple[datetime, datetime | None, str]]:
    """For each ticket: when it was stored, when it was first triaged (None while waiting), and how."""
    wanted = set(ids)
    times: dict[str, tuple[datetime, datetime | None, str]] = {}
    with database.unit_of_work() as session:
        for ticket_id, created_at in session.execute(select(Ticket.id, Ticket.created_at)):
            if ticket_id in wanted:
                times[ticket_id] = (created_at, None, "received")
        statement = select(TicketEvent.ticket_id, TicketEvent.at, TicketEvent.kind).where(
            TicketEvent.kind.in_(TRIAGE_EVENTS)
        )
        for ticket_id, at, kind in session.execute(statement.order_by(TicketEvent.id)):
            if ticket_id in times and times[ticket_id][1] is None:
                times[ticket_id] = (times[ticket_id][0], at, kind)
    return times


def run(args: argparse.Namespace) -> int:
    """Starts the stack, runs the burst, prints the figures; returns 0 when every ticket was triaged."""
    redis.Redis.from_url(REDIS).flushdb()
    with ExitStack() as cleanup:
        database_url = cleanup.enter_context(_database(args.database))
        folder = Path(tempfile.mkdtemp(prefix="linli-burst-"))  # kept when something fails: the logs are there
        env, addresses = _environment(database_url, folder / "index")
        stack = Stack(folder, env)
        cleanup.callback(stack.stop)
        _say(f"starting the stack (logs in {folder})")
        stack.start("retrieval", ["serve", "retrieval"])
        stack.start("routing", ["serve", "routing"])
        stack.start("intake", ["serve", "intake"])
        for n in range(args.workers):
            stack.start(f"worker-{n}", ["worker"], {"LINLI_INTAKE_WORKER_CONCURRENCY": str(args.worker_concurrency)})
        _wait_ready(stack, addresses)
        database = Database(database_url)
        cleanup.callback(database.dispose)

        bodies = _complaints(args.tickets + args.warmup, set(IntakeSettings().known_communities))
        _say(f"warming up with {args.warmup} tickets")
        warm, _ = _submit_all(addresses["http"], bodies[: args.warmup], min(args.concurrency, args.warmup))
        _wait_triaged(database, [s.ticket_id for s in warm if s.ticket_id], stack, args.timeout)

        _say(f"submitting {args.tickets} tickets, {args.concurrency} at a time")
        cpu_before = stack.cpu_seconds()
        results, submit_seconds = _submit_all(addresses["http"], bodies[args.warmup :], args.concurrency)
        ids = [s.ticket_id for s in results if s.ticket_id]
        _wait_triaged(database, ids, stack, args.timeout)
        cpu = {name: used - cpu_before.get(name, 0.0) for name, used in stack.cpu_seconds().items()}
        times = _triage_times(database, ids)
        _report(args, database_url, results, submit_seconds, times)
        sys.stdout.write("CPU seconds      " + ", ".join(f"{name} {used:.1f}" for name, used in cpu.items()) + "\n")
        complete = all(at is not None for _, at, _ in times.values()) and len(ids) == args.tickets
        if complete:
            cleanup.callback(shutil.rmtree, folder, ignore_errors=True)
        return 0 if complete else 1


def _wait_triaged(database: Database, ids: list[str], stack: Stack, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack.check_alive()
        waiting = sum(1 for _, at, _ in _triage_times(database, ids).values() if at is None)
        if waiting == 0:
            return
        _say(f"{waiting} of {len(ids)} still waiting for triage")
        time.sleep(2)
    _say("timed out waiting for triage")


def _report(
    args: argparse.Namespace,
    database_url: str,
    results: list[Submitted],
    submit_seconds: float,
    times: dict[str, tuple[datetime, datetime | None, str]],
) -> None:
    errors = [s.error for s in results if s.error]
    http = np.asarray([s.seconds for s in results]) * 1000
    created = [c for c, _, _ in times.values()]
    done = [(c, at, kind) for c, at, kind in times.values() if at is not None]
    latencies = np.asarray([(at - c).total_seconds() for c, at, _ in done]) if done else np.zeros(1)
    span = (max(at for _, at, _ in done) - min(created)).total_seconds() if done else float("nan")
    outcomes = Counter(kind for _, _, kind in times.values())
    store = "PostgreSQL" if database_url.startswith("postgresql") else "SQLite"
    lines = [
        f"triage burst: {args.tickets} tickets over HTTP, {args.concurrency} concurrent; {args.workers} worker(s) x "
        f"{args.worker_concurrency} threads; {store} + Redis; index: starter corpus; {os.cpu_count()} CPUs",
        f"submitted/s      {len(results) / submit_seconds:8.1f}   ({len(results)} in {submit_seconds:.1f} s; HTTP "
        f"p50 {np.percentile(http, 50):.0f} ms, p99 {np.percentile(http, 99):.0f} ms)",
        f"routed/s         {len(done) / span:8.1f}   ({len(done)} triaged {span:.1f} s after the first submit: "
        f"routed {outcomes['routed']}, needs_manual {outcomes['needs_manual']}, merged as duplicates "
        f"{outcomes['merged']}, still received {outcomes['received']})",
        f"submit→routed    p50 {np.percentile(latencies, 50):.1f} s   p99 {np.percentile(latencies, 99):.1f} s",
        f"errors           {len(errors)}" + (f"   e.g. {errors[0]}" if errors else ""),
    ]
    sys.stdout.write("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    """Entry point: `python -m bench.triage_burst [--tickets N] [--concurrency C] [--workers W] ...`."""
    parser = argparse.ArgumentParser(prog="python -m bench.triage_burst", description=__doc__)
    parser.add_argument("--tickets", type=int, default=1000, help="tickets in the burst")
    parser.add_argument("--concurrency", type=int, default=16, help="HTTP submits in flight at once")
    parser.add_argument("--workers", type=int, default=1, help="Celery worker processes")
    parser.add_argument("--worker-concurrency", type=int, default=8, help="triage threads per worker")
    parser.add_argument("--warmup", type=int, default=8, help="tickets triaged before the burst, not counted")
    parser.add_argument("--database", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait for the last triage")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
