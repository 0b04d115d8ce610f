"""Intake's observability: the HTTP middleware, database and broker collectors, Celery hooks, /metrics endpoints.

The worker runs its tasks on threads in one process (`--pool=threads`), so prometheus-client's default
single-process mode is correct there and a plain `start_http_server` on `LINLI_INTAKE_WORKER_METRICS_PORT` is
the simplest exposition: no multiprocess directory, no push gateway.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

import redis
from celery import Celery, Task
from celery.signals import task_postrun, task_prerun, worker_shutdown
from fastapi import FastAPI
from fastapi.responses import Response
from kombu.transport.redis import PRIORITY_STEPS
from kombu.transport.redis import Channel as RedisChannel
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, create_engine, func, inspect, select, text
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from linli.logs import REQUEST_ID_HEADER, bind_log_context, log_context, request_id_or_new, unbind_log_context
from linli.metrics import (
    MetricsEndpoint,
    ServerMetrics,
    ServiceMetrics,
    exposed_registry,
    start_metrics_endpoint,
)
from services.intake.database import Database
from services.intake.metrics import API_REGISTRY, HTTP_REQUESTS, HTTP_SECONDS, RPC, TASK_SECONDS, WORKER_REGISTRY
from services.intake.settings import IntakeSettings
from services.intake.tickets.models import Ticket, TicketStatus
from services.intake.worker.celery_app import CASE_SYNC_TASK, LIFECYCLE_QUEUE, TRIAGE_QUEUE, TRIAGE_TASK

logger = logging.getLogger(__name__)

UNMATCHED_ROUTE = "unmatched"
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
BROKER_TIMEOUT_SECONDS = 0.5
TICKET_TASKS = frozenset({TRIAGE_TASK, CASE_SYNC_TASK})


class TicketStatusCollector(Collector):
    """`linli_intake_tickets{status}`: one grouped count over the status index at each scrape."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def collect(self) -> Iterator[Metric]:
        """Yields the count of every status (0 for statuses no ticket has), or nothing if the database fails."""
        try:
            with self._database.unit_of_work() as session:
                rows = session.execute(select(Ticket.status, func.count()).group_by(Ticket.status)).all()
        except SQLAlchemyError as error:
            logger.warning("tickets by status not counted: %s", error)
            return
        counts = {status.value: 0 for status in TicketStatus} | {str(status): int(n) for status, n in rows}
        family = GaugeMetricFamily("linli_intake_tickets", "Tickets by status.", labels=["status"])
        for status, count in sorted(counts.items()):
            family.add_metric([status], count)
        yield family


class QueueDepthCollector(Collector):
    """`linli_intake_queue_depth{queue}`: messages waiting in the broker, read with a short timeout at each scrape.

    Redis: LLEN of the queue's lists (kombu keeps one per priority step). SQLAlchemy transport: visible rows.
    """

    QUEUES = (TRIAGE_QUEUE, LIFECYCLE_QUEUE)

    def __init__(self, broker_url: str) -> None:
        self._redis: redis.Redis | None = None
        self._engine: Engine | None = None
        if broker_url.startswith(("redis://", "rediss://")):
            self._redis = redis.Redis.from_url(
                broker_url, socket_timeout=BROKER_TIMEOUT_SECONDS, socket_connect_timeout=BROKER_TIMEOUT_SECONDS
            )
        elif broker_url.startswith("sqla+"):
            self._engine = create_engine(broker_url.removeprefix("sqla+"))
        else:
            logger.info("queue depth not measured for this broker", extra={"scheme": broker_url.split(":", 1)[0]})

    def collect(self) -> Iterator[Metric]:
        """Yields the depth of each queue and whether the broker answered."""
        if self._redis is None and self._engine is None:
            return
        try:
            if self._redis is not None:
                depths: dict[str, int] | None = redis_depths(self._redis, self.QUEUES)
            else:
                depths = sql_depths(self._engine, self.QUEUES) if self._engine is not None else None
        except (redis.RedisError, SQLAlchemyError) as error:
            logger.warning("queue depth not read: %s", error)
            depths = None
        up = GaugeMetricFamily(
            "linli_intake_broker_up", "1 if the broker answered this scrape.", value=depths is not None
        )
        yield up
        if depths is None:
            return
        family = GaugeMetricFamily("linli_intake_queue_depth", "Messages waiting in a broker queue.", labels=["queue"])
        for queue, depth in depths.items():
            family.add_metric([queue], depth)
        yield family


def redis_depths(client: redis.Redis, queues: Iterable[str]) -> dict[str, int]:
    """Messages waiting in each queue of a Redis broker: the lists of every priority step, in one round trip."""
    names = list(queues)
    pipe = client.pipeline(transaction=False)
    for queue in names:
        for step in PRIORITY_STEPS:
            pipe.llen(f"{queue}{RedisChannel.sep}{step}" if step else queue)
    sizes = iter(pipe.execute())
    return {queue: sum(int(next(sizes)) for _ in PRIORITY_STEPS) for queue in names}


def sql_depths(engine: Engine, queues: Iterable[str]) -> dict[str, int]:
    """Visible messages in each queue of kombu's SQLAlchemy transport."""
    names = list(queues)
    with engine.connect() as connection:
        if not inspect(connection).has_table("kombu_message"):
            return dict.fromkeys(names, 0)  # nothing was ever sent
        rows = connection.execute(
            text(
                "SELECT q.name, count(m.id) FROM kombu_queue q LEFT JOIN kombu_message m "
                "ON m.queue_id = q.id AND m.visible GROUP BY q.name"
            )
        ).all()
    found = {str(name): int(count) for name, count in rows}
    return {queue: found.get(queue, 0) for queue in names}


class HttpObservability:
    """ASGI middleware: a request id for the logs (echoed as X-Request-ID), and latency and codes by route template.

    The route label is the template (`/v1/tickets/{ticket_id}`), never the raw path, so ids never become labels.
    """

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        request_id = request_id_or_new(headers.get(REQUEST_ID_HEADER.encode(), b"").decode("latin-1"))
        status = 500  # what the client gets when the app raises before answering
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = [*message.get("headers", []), (REQUEST_ID_HEADER.encode(), request_id.encode())]
            await send(message)

        try:
            with log_context(request_id=request_id):
                await self._app(scope, receive, send_with_id)
        finally:
            method = scope["method"] if scope["method"] in HTTP_METHODS else "other"  # a client can send any word
            labels = (method, self._route_template(scope), str(status))
            HTTP_SECONDS.labels(*labels).observe(time.perf_counter() - started)
            HTTP_REQUESTS.labels(*labels).inc()

    def _route_template(self, scope: Scope) -> str:
        route = scope.get("route")  # the router leaves the route it matched in the scope
        if route is None:
            return UNMATCHED_ROUTE
        return str(getattr(route, "path_format", None) or getattr(route, "path", UNMATCHED_ROUTE))


def instrument_http(app: FastAPI, *, database: Database, broker_url: str) -> CollectorRegistry:
    """Adds request ids, HTTP metrics and `GET /metrics` to intake's app; returns the registry it shows."""
    registry = exposed_registry(API_REGISTRY, TicketStatusCollector(database), QueueDepthCollector(broker_url))
    app.add_middleware(HttpObservability)

    # Sync, so FastAPI runs it on a thread: the status count and the broker read must not block the event loop.
    @app.get("/metrics", tags=["ops"], include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return registry


def grpc_metrics() -> ServerMetrics:
    """What intake's gRPC server records; shown on the HTTP app's /metrics, not on a port of its own."""
    return ServerMetrics(ServiceMetrics(RPC, API_REGISTRY))


class _TaskObserver:
    """Binds a ticket task's ticket id to its log lines and times every task, from Celery's run signals."""

    def __init__(self) -> None:
        self._running: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def started(self, task_id: str, task: Task, args: Any) -> None:
        token = None
        if task.name in TICKET_TASKS and args:
            token = bind_log_context(ticket_id=str(args[0]))
        with self._lock:
            self._running[task_id] = (time.perf_counter(), token)

    def finished(self, task_id: str, task: Task, state: str | None) -> None:
        with self._lock:
            entry = self._running.pop(task_id, None)
        if entry is None:
            return
        started, token = entry
        TASK_SECONDS.labels(task.name, state or "UNKNOWN").observe(time.perf_counter() - started)
        if token is not None:
            try:
                unbind_log_context(token)
            except ValueError:
                logger.debug("task finished in another context than it started")


def instrument_worker(app: Celery, settings: IntakeSettings) -> MetricsEndpoint | None:
    """Serves the worker's metrics on `settings.worker_metrics_port` and observes every task of `app`.

    Returns the endpoint, None if its port was taken (the worker runs on: its tasks matter more).
    """
    endpoint = start_metrics_endpoint(WORKER_REGISTRY, host=settings.host, port=settings.worker_metrics_port)
    observer = _TaskObserver()

    def on_prerun(task_id: str, task: Task, args: Any = (), **_: Any) -> None:
        if task.app is app:
            observer.started(task_id, task, args)

    def on_postrun(task_id: str, task: Task, state: str | None = None, **_: Any) -> None:
        if task.app is app:
            observer.finished(task_id, task, state)

    def on_shutdown(**_: Any) -> None:
        if endpoint is not None:
            endpoint.stop()

    # weak=False: the handlers are closures that nothing else keeps alive.
    task_prerun.connect(on_prerun, weak=False)
    task_postrun.connect(on_postrun, weak=False)
    worker_shutdown.connect(on_shutdown, weak=False)
    return endpoint
