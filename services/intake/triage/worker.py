"""The Celery worker process that runs triage: `linli worker`."""

from __future__ import annotations

import threading

import grpc

from linli.logs import configure_logging
from linli.settings import IntakeSettings
from services.intake.database import Database
from services.intake.tickets.flows import TicketFlows
from services.intake.triage.celery_app import TRIAGE_QUEUE, CeleryTriageQueue, create_celery_app
from services.intake.triage.routing_client import RoutingClient
from services.intake.triage.tasks import TriageDeps, register_triage_task


class WorkerDeps:
    """Builds the task's dependencies on first use inside the worker (never at import, never per task)."""

    def __init__(self, settings: IntakeSettings, queue: CeleryTriageQueue) -> None:
        self._settings = settings
        self._queue = queue
        self._deps: TriageDeps | None = None
        self._lock = threading.Lock()

    def __call__(self) -> TriageDeps:
        with self._lock:
            if self._deps is None:
                database = Database(self._settings.database_url)
                database.create_schema()
                channel = grpc.insecure_channel(self._settings.routing_target)
                self._deps = TriageDeps(
                    flows=TicketFlows(database, self._queue),
                    routing=RoutingClient(channel, timeout_seconds=self._settings.rpc_timeout_seconds),
                )
            return self._deps


def worker_argv(settings: IntakeSettings) -> list[str]:
    """Command line of the Celery worker: threads, since a triage waits on gRPC and the database, not the CPU."""
    return [
        "worker",
        "--pool=threads",
        f"--concurrency={settings.worker_concurrency}",
        f"--queues={TRIAGE_QUEUE}",
        "--loglevel=INFO",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]


def main() -> None:
    """Runs a triage worker until SIGTERM (warm shutdown: running tasks finish) or SIGINT."""
    configure_logging("worker")
    settings = IntakeSettings()
    app = create_celery_app(settings)
    register_triage_task(app, WorkerDeps(settings, CeleryTriageQueue(app)), settings)
    app.worker_main(worker_argv(settings))
