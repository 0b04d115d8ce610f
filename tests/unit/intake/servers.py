"""Intake's gRPC server as `linli serve intake` builds it, on SQLite, with the recording fakes of intake_fakes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from linli.tokens import TokenCodec
from services.intake.auth.residents import ResidentVerifier
from services.intake.database import Database
from services.intake.ratelimit import RateLimiter
from services.intake.server import IntakeDeps, IntakeServer, create_server
from services.intake.settings import IntakeSettings
from tests.local_servers import intake_config
from tests.unit.intake.fakes import RecordingNotifier, RecordingTaskQueue

READY_SECONDS = 30


@contextmanager
def sqlite_intake(
    folder: Path,
    *,
    limiter: RateLimiter,
    codec: TokenCodec | None = None,
    verifier: ResidentVerifier | None = None,
) -> Iterator[IntakeServer]:
    """A running intake on `folder`/t.sqlite (gRPC on a free port), stopped and its database closed on exit;
    `codec` and `verifier` default to what the environment configures, as the server's would."""
    settings = IntakeSettings(host="127.0.0.1", grpc_port=0, database_url=f"sqlite:///{folder / 't.sqlite'}")
    deps = IntakeDeps(
        database=Database(settings.database_url),
        queue=RecordingTaskQueue(),
        notifier=RecordingNotifier(),
        codec=codec,
        verifier=verifier,
        limiter=limiter,
    )
    server = create_server(intake_config(settings), deps)
    try:
        assert server.grpc.wait_ready(READY_SECONDS), server.grpc.load_error
        yield server
    finally:
        server.grpc.stop(0)
        server.database.dispose()
