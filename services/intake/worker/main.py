"""The Celery worker of intake (`linli worker`) and the beat that schedules its sweeps (`linli beat`)."""

from __future__ import annotations

import logging
import threading

from celery import Celery
from celery.signals import worker_ready

from linli.clients.retrieval import RetrievalClient
from linli.clients.routing import RoutingClient
from linli.grpc_auth import ServiceCredentials
from linli.grpc_tls import open_channel
from linli.heap import freeze_startup_objects
from linli.logs import configure_logging
from linli.settings import LogSettings
from services.intake.database import Database
from services.intake.notifications import create_notifier
from services.intake.notifications import register_tasks as register_notification_tasks
from services.intake.observability import instrument_worker
from services.intake.settings import IntakeConfig, IntakeSettings
from services.intake.tickets.context import FlowContext, LifecyclePolicy
from services.intake.tickets.learning import LearningFlows
from services.intake.tickets.sweeps import SweepFlows
from services.intake.triage.flows import TriageFlows
from services.intake.triage.route_batches import RouteBatches
from services.intake.uploads.assembly import create_object_store
from services.intake.uploads.storage import ObjectStore
from services.intake.worker.celery_app import LIFECYCLE_QUEUE, TRIAGE_QUEUE, CeleryTaskQueue, create_celery_app
from services.intake.worker.tasks import TaskDeps, register_tasks


class WorkerDeps:
    """Builds the tasks' dependencies on first use inside the worker (never at import, never per task)."""

    def __init__(self, config: IntakeConfig, app: Celery, credentials: ServiceCredentials) -> None:
        self._config = config
        self._app = app
        self._credentials = credentials
        self._deps: TaskDeps | None = None
        self._photos: ObjectStore | None = None
        self._lock = threading.Lock()
        self._photos_lock = threading.Lock()

    def __call__(self) -> TaskDeps:
        with self._lock:
            if self._deps is None:
                self._deps = self._build()
            return self._deps

    def _photo_store(self) -> ObjectStore:
        # Made when a sweep first deletes a photo, then kept: an S3 store that is down fails that sweep, no triage.
        with self._photos_lock:
            if self._photos is None:
                self._photos = create_object_store(
                    self._config.uploads, secrets=self._config.process.auth.signing_keys()
                )
            return self._photos

    def _build(self) -> TaskDeps:
        settings, tls = self._config.intake, self._config.process.tls
        database = Database(settings.database_url, pool_size=settings.database_pool_size)
        database.upgrade_schema()  # a worker started before intake finds the schema in place all the same
        context = FlowContext(
            database,
            CeleryTaskQueue(self._app),
            policy=LifecyclePolicy.from_settings(settings),
            notifier=create_notifier(self._config.notifications, celery_app=self._app),
        )
        timeout = settings.rpc_timeout_seconds
        return TaskDeps(
            triage=TriageFlows(context),
            learning=LearningFlows(context),
            sweeps=SweepFlows(context, self._photo_store, self._config.uploads.unattached_for),
            # Every call to routing and retrieval carries a service token the worker signs itself.
            routing=RouteBatches(
                RoutingClient(
                    open_channel(settings.routing_target, tls),
                    timeout_seconds=timeout,
                    credentials=self._credentials.metadata,
                ),
                max_batch=settings.triage_route_batch,
                in_flight=settings.triage_route_calls,
            ),
            retrieval=RetrievalClient(
                open_channel(settings.retrieval_target, tls),
                timeout_seconds=timeout,
                credentials=self._credentials.metadata,
            ),
            detect_duplicates=settings.duplicate_window_hours > 0,
            share_embedding=settings.triage_shares_embedding,
        )


# Who the worker's service tokens name, in retrieval's logs.
SERVICE_NAME = "intake-worker"


def worker_argv(settings: IntakeSettings, log_level: str = "INFO") -> list[str]:
    """Command line of the Celery worker: threads, since a task waits on gRPC and the database, not the CPU.

    The thread pool enforces no time limit: the RPC deadlines (`rpc_timeout_seconds`) bound a task instead. Celery
    logs at the process's level (`LINLI_LOG_LEVEL`), but for its lines of each task (`quiet_task_lines`).
    """
    return [
        "worker",
        "--pool=threads",
        f"--concurrency={settings.worker_concurrency}",
        f"--queues={TRIAGE_QUEUE},{LIFECYCLE_QUEUE}",
        f"--loglevel={log_level}",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]


# Celery's lines for every task received and succeeded: at INFO two a ticket, beside the worker's own "triaged" line
# that names the ticket and its outcome (65,000 tickets a day would be 130,000 lines of noise). A task that fails is
# still logged, at ERROR, by the same loggers; at DEBUG they say everything again.
CELERY_TASK_LOGGERS = ("celery.app.trace", "celery.worker.strategy")


def quiet_task_lines(level: str) -> None:
    """Lifts Celery's per-task loggers to WARNING unless the process logs at DEBUG."""
    if logging.getLevelName(level.upper()) != logging.DEBUG:
        for name in CELERY_TASK_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)


def main() -> None:
    """Runs a worker until SIGTERM (warm shutdown: running tasks finish, unstarted ones go back) or SIGINT."""
    config = IntakeConfig.from_environment()
    configure_logging("worker", config.process.log)
    settings = config.intake
    # Read at start: a worker without the token key would fail every case sync, so it refuses to start instead.
    credentials = ServiceCredentials.from_settings(SERVICE_NAME, config.process.auth)
    app = create_celery_app(settings)
    register_tasks(app, WorkerDeps(config, app, credentials), settings)
    register_notification_tasks(app, settings=config.notifications)
    instrument_worker(app, settings)
    # Celery's and the tasks' modules, loaded by now, live till exit: full collections need not walk them.
    worker_ready.connect(lambda **_: freeze_startup_objects(), weak=False)
    quiet_task_lines(config.process.log.level)
    app.worker_main(worker_argv(settings, config.process.log.level))


def beat_main() -> None:
    """Runs Celery beat: sends the re-queue and escalation sweeps every `sweep_interval_seconds` (one beat only)."""
    configure_logging("beat", LogSettings())
    settings = IntakeSettings()
    settings.beat_schedule_file.parent.mkdir(parents=True, exist_ok=True)
    app = create_celery_app(settings)
    app.Beat(schedule=str(settings.beat_schedule_file), loglevel="INFO").run()
