"""The floor under a ticket's CPU: what the design's mandatory steps cost on this machine with nothing behind them.

Run `python -m bench.triage_floor`. Every ticket, whatever the code around it, crosses the same steps, fixed by the
design card: the resident's HTTP submit to intake (FastAPI under uvicorn), the ticket stored before anything else
(PostgreSQL: insert the ticket and its event, commit), the triage queued and taken (Celery on Redis), two gRPC calls
(worker -> routing, routing -> retrieval), the text embedded once (m3e-small, the configured backend), and the
decision recorded (lock the row, update it, insert the event, commit). Each step runs here alone, with the libraries
and settings the services use but an empty body: a FastAPI endpoint that validates the submit body and answers, a
Celery task that does nothing, a gRPC method that echoes bytes. The figure of each is the machine's busy CPU
(/proc/stat: every process, PostgreSQL, Redis and the kernel included) per step, on an otherwise idle machine.

The sum is what a ticket costs before linli does any work of its own: 2 cores divided by it is the most tickets a
second this design can route on this machine. The last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import redis
from celery import Celery
from fastapi import FastAPI, Header
from pydantic import BaseModel, Field
from sqlalchemy import JSON, Column, DateTime, Integer, MetaData, String, Table, create_engine, func, insert, select
from sqlalchemy import update as sql_update

from bench.embedding_speed import complaints
from bench.reliability.residents import Submitter
from bench.reliability.stack import BENCH_REDIS, free_port, fresh_database
from bench.reliability.workload import submissions
from bench.triage_rate import machine_busy_seconds
from linli.embedding import create_embedder
from services.intake.settings import IntakeSettings
from services.retrieval.settings import RetrievalSettings

ROOT = Path(__file__).resolve().parent.parent
ECHO_SERVICE, ECHO_CALL = "floor.Echo", "Call"
REQUEST_BYTES = 2_600  # about a Route request: the text, its community, a 512-float vector
REPLY_BYTES = 6_000  # about a reply carrying ten precedents


@dataclass(frozen=True)
class Step:
    """One mandatory step: how many times a ticket crosses it, and the machine CPU-ms each crossing costs."""

    name: str
    per_ticket: float
    machine_ms: float
    client_ms: float  # of that, this process (the load generator's side)

    @property
    def ticket_ms(self) -> float:
        return self.per_ticket * self.machine_ms


@contextmanager
def measured(count: int) -> Iterator[dict[str, float]]:
    """Machine and this process's CPU-ms per unit of `count` spent inside the block."""
    figures: dict[str, float] = {}
    machine, client = machine_busy_seconds(), time.process_time()
    yield figures
    figures["machine_ms"] = 1000 * (machine_busy_seconds() - machine) / count
    figures["client_ms"] = 1000 * (time.process_time() - client) / count


def _serve(argv: list[str], ready: Callable[[], bool]) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([sys.executable, "-m", "bench.triage_floor", *argv], cwd=ROOT)  # noqa: S603 - our own script
    for _ in range(300):
        if ready():
            return process
        if process.poll() is not None:
            raise RuntimeError(f"{argv[:2]} exited with {process.returncode}")
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{argv[:2]} did not start")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(timeout=30)


# -- HTTP: the resident's submit --------------------------------------------------------------------------------


class SubmitBody(BaseModel):
    """The fields the real submit body checks on every ticket."""

    text: str = Field(min_length=1, max_length=2000)
    community: str = Field(min_length=1, max_length=64)
    building: str = Field("", max_length=64)


class Accepted(BaseModel):
    id: str
    status: str


def http_app() -> FastAPI:
    """Login and submit with the real paths and bodies; the submit hands a no-op to a worker thread as intake does."""
    from starlette.concurrency import run_in_threadpool

    app = FastAPI()

    @app.post("/v1/auth/wechat")
    async def login(body: dict[str, str]) -> dict[str, str]:
        return {"token": body["code"]}

    @app.post("/v1/tickets", status_code=201, response_model=Accepted)
    async def submit(
        body: SubmitBody,
        authorization: str = Header(),
        idempotency_key: str = Header(alias="Idempotency-Key"),
    ) -> Accepted:
        await run_in_threadpool(lambda: None)
        return Accepted(id=uuid.uuid4().hex, status="received")

    return app


def http_step(tickets: int, concurrency: int) -> Step:
    """The benchmarks' own resident client (bench.reliability.residents) against the empty submit endpoint."""
    import httpx

    port = free_port()

    def ready() -> bool:
        try:
            return httpx.post(f"http://127.0.0.1:{port}/v1/auth/wechat", json={"code": "x"}).status_code == 200
        except httpx.TransportError:
            return False

    server = _serve(["--serve", "http", str(port)], ready)
    try:
        # The burst's own workload: the same complaints in the same communities (bench.triage_burst).
        planned = submissions(
            list(IntakeSettings().known_communities), tickets + concurrency, prefix=f"floor-{uuid.uuid4().hex[:6]}"
        )
        base = f"http://127.0.0.1:{port}"
        _run_submitter(base, planned[:concurrency], concurrency)  # logs the first residents in, warms up
        with measured(tickets) as figures:
            receipts = _run_submitter(base, planned[concurrency:], concurrency)
        failed = [r.error for r in receipts if not r.ticket_id]
        if failed:
            raise RuntimeError(f"{len(failed)} submits failed, e.g. {failed[0]}")
    finally:
        _stop(server)
    return Step("HTTP submit (FastAPI + uvicorn, client included)", 1, **figures)


def _run_submitter(base_url: str, planned: list[Any], concurrency: int) -> list[Any]:
    submitter = Submitter(base_url, concurrency=concurrency, give_up_after=0.0)
    try:
        return submitter.run(planned)
    finally:
        submitter.close()


# -- the database: store the ticket, then record its decision ----------------------------------------------------

METADATA = MetaData()
TICKETS = Table(
    "tickets",
    METADATA,
    Column("id", String(32), primary_key=True),
    Column("community", String(64), nullable=False, index=True),
    Column("resident_id", String(64), nullable=False),
    Column("text", String(2000), nullable=False),
    Column("status", String(16), nullable=False, index=True),
    Column("idempotency_key", String(128), unique=True),
    Column("decision", JSON),
    Column("created_at", DateTime(timezone=True), server_default=func.now()),
)
EVENTS = Table(
    "ticket_events",
    METADATA,
    Column("id", Integer, primary_key=True),
    Column("ticket_id", String(32), nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("payload", JSON),
    Column("at", DateTime(timezone=True), server_default=func.now()),
)


def database_step(url: str, tickets: int, threads: int) -> tuple[Step, Step]:
    """Intake's insert and the worker's locked update, each in its own transaction, from `threads` threads."""
    engine = create_engine(url, pool_size=threads)
    METADATA.create_all(engine)
    ids = [uuid.uuid4().hex for _ in range(tickets)]

    def store(ticket_id: str) -> None:
        with engine.begin() as connection:
            key = f"key-{ticket_id}"
            if connection.execute(select(TICKETS.c.id).where(TICKETS.c.idempotency_key == key)).first() is None:
                connection.execute(
                    insert(TICKETS).values(
                        id=ticket_id,
                        community="恒康居民区",
                        resident_id="r",
                        text="楼道灯坏了" * 8,
                        status="received",
                        idempotency_key=key,
                    )
                )
                connection.execute(insert(EVENTS).values(ticket_id=ticket_id, kind="received", payload={}))

    def record(ticket_id: str) -> None:
        with engine.begin() as connection:
            connection.execute(select(TICKETS.c.status).where(TICKETS.c.id == ticket_id).with_for_update()).one()
            decision = {"party": "property_manager", "confidence": 0.93, "precedents": [f"case-{n}" for n in range(10)]}
            connection.execute(
                sql_update(TICKETS).where(TICKETS.c.id == ticket_id).values(status="routed", decision=decision)
            )
            connection.execute(insert(EVENTS).values(ticket_id=ticket_id, kind="routed", payload=decision))

    try:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(store, [uuid.uuid4().hex for _ in range(threads * 4)]))  # warms the pool
            with measured(tickets) as stored:
                list(pool.map(store, ids))
            with measured(tickets) as recorded:
                list(pool.map(record, ids))
    finally:
        engine.dispose()
    return (
        Step("store the ticket (INSERT ticket + event, commit)", 1, **stored),
        Step("record the decision (SELECT FOR UPDATE, UPDATE, INSERT, commit)", 1, **recorded),
    )


# -- Celery: the triage queued and taken --------------------------------------------------------------------------

QUEUE = "floor"


def triage_nothing(ticket_id: str) -> None:
    """The task's body: nothing, so that only the delivery is measured."""


def celery_app(broker_url: str) -> Celery:
    """The worker's delivery settings (services/intake/worker/celery_app.py): late ack, one prefetched, JSON."""
    app = Celery("floor", broker=broker_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        task_default_queue=QUEUE,
        worker_hijack_root_logger=False,
    )
    app.task(name="floor.triage", ignore_result=True)(triage_nothing)
    return app


def celery_step(broker_url: str, tickets: int, concurrency: int) -> Step:
    """Publishes `tickets` no-op tasks at once; a thread-pool worker takes them; done when the queue is empty."""
    store = redis.Redis.from_url(broker_url)
    store.flushdb()
    app = celery_app(broker_url)
    worker = _serve(
        ["--serve", "celery", broker_url, str(concurrency)],
        lambda: bool(app.control.ping(timeout=0.5)),
    )
    task = app.tasks["floor.triage"]

    def drained() -> bool:
        return store.llen(QUEUE) == 0 and store.hlen("unacked") == 0

    try:
        _publish_and_drain(task, 50, drained)
        with measured(tickets) as figures:
            _publish_and_drain(task, tickets, drained)
    finally:
        _stop(worker)
        store.flushdb()
    return Step("queue and take the triage (Celery on Redis)", 1, **figures)


def _publish_and_drain(task: Any, count: int, drained: Callable[[], bool]) -> None:
    for _ in range(count):
        task.apply_async(args=(uuid.uuid4().hex,))
    while not drained():
        time.sleep(0.2)


# -- gRPC: worker -> routing, routing -> retrieval ----------------------------------------------------------------


def grpc_step(calls: int, threads: int) -> Step:
    """Unary calls of Route's size over one channel from `threads` threads, to a server of 8 handler threads."""
    port = free_port()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    call = channel.unary_unary(f"/{ECHO_SERVICE}/{ECHO_CALL}", request_serializer=bytes, response_deserializer=bytes)
    request = os.urandom(REQUEST_BYTES)

    def ready() -> bool:
        try:
            grpc.channel_ready_future(channel).result(timeout=0.2)
            return True
        except grpc.FutureTimeoutError:
            return False

    server = _serve(["--serve", "grpc", str(port)], ready)
    try:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda _: call(request, timeout=10), range(200)))
            with measured(calls) as figures:
                list(pool.map(lambda _: call(request, timeout=10), range(calls)))
    finally:
        channel.close()
        _stop(server)
    return Step("a gRPC call (grpcio, client and server)", 2, **figures)


def serve_grpc(port: int) -> None:
    from concurrent import futures

    reply = os.urandom(REPLY_BYTES)
    handler = grpc.unary_unary_rpc_method_handler(lambda request, context: reply)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(ECHO_SERVICE, {ECHO_CALL: handler}),))
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    server.wait_for_termination()


# -- the model: one embedding a ticket ----------------------------------------------------------------------------


def model_step(texts: int) -> Step:
    """The configured embedder, one text a call as the services embed a ticket's text."""
    embedder = create_embedder(RetrievalSettings().embedder_config())
    heads = complaints(texts)
    for text in heads[:20]:
        embedder.embed([text])
    with measured(len(heads)) as figures:
        for text in heads:
            embedder.embed([text])
    return Step(f"embed the text once ({embedder.model_name})", 1, **figures)


# -- the run --------------------------------------------------------------------------------------------------------


def report(steps: list[Step]) -> dict[str, Any]:
    total = sum(step.ticket_ms for step in steps)
    cores = os.cpu_count() or 1
    lines = [f"{'step':<70} {'x/ticket':>8} {'machine CPU-ms':>15} {'of it client':>13}"]
    lines += [f"{s.name:<70} {s.per_ticket:>8g} {s.machine_ms:>15.2f} {s.client_ms:>13.2f}" for s in steps]
    lines.append(f"floor: {total:.1f} CPU-ms a ticket -> at most {1000 * cores / total:.0f} tickets/s on {cores} cores")
    sys.stdout.write("\n".join(lines) + "\n")
    return {
        "steps": {
            s.name: {"per_ticket": s.per_ticket, "machine_ms": s.machine_ms, "client_ms": s.client_ms} for s in steps
        },
        "floor_ms_per_ticket": total,
        "max_tickets_per_second": 1000 * cores / total,
        "cores": cores,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.triage_floor", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=2000, help="tickets (and calls) each step is measured over")
    parser.add_argument("--concurrency", type=int, default=16, help="submits in flight, as bench.triage_burst")
    parser.add_argument("--threads", type=int, default=8, help="worker threads, as the shipped worker")
    parser.add_argument("--broker-url", default=BENCH_REDIS, help="Redis database for the Celery step (flushed)")
    parser.add_argument("--serve", nargs="+", help=argparse.SUPPRESS)  # the steps' own server processes
    args = parser.parse_args(argv)
    if args.serve:
        return _serve_forever(args.serve)
    steps = [http_step(args.tickets, args.concurrency)]
    with fresh_database() as url:
        steps += database_step(url, args.tickets, args.threads)
    steps += [celery_step(args.broker_url, args.tickets, args.threads), grpc_step(args.tickets, args.threads)]
    steps.append(model_step(200))
    sys.stdout.write(json.dumps(report(steps), ensure_ascii=False) + "\n")
    return 0


def _serve_forever(argv: list[str]) -> int:
    kind, *rest = argv
    if kind == "http":
        import uvicorn

        uvicorn.run(http_app(), host="127.0.0.1", port=int(rest[0]), log_config=None, access_log=False)
    elif kind == "grpc":
        serve_grpc(int(rest[0]))
    elif kind == "celery":
        celery_app(rest[0]).worker_main(
            ["worker", "--pool=threads", f"--concurrency={rest[1]}", f"--queues={QUEUE}", "--loglevel=WARNING"]
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
