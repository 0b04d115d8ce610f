"""The routing gRPC server: factory and process entry point."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta

import grpc

from linli.clients.health import serving_status
from linli.clients.retrieval import RetrievalClient
from linli.errors import LinliError, Unavailable
from linli.grpc_auth import ServiceCredentials, service_only_interceptor
from linli.grpc_serving import ServerHandle, build_server, serve_until_stopped
from linli.grpc_tls import open_channel
from linli.logs import configure_logging
from linli.settings import ProcessSettings
from linli.tokens import TokenCodec
from linli.v1 import routing_pb2, routing_pb2_grpc
from services.routing.bootstrap import RouterBootstrap
from services.routing.observability import server_metrics
from services.routing.servicer import RoutingServicer
from services.routing.settings import RoutingSettings

logger = logging.getLogger(__name__)

SERVICE = routing_pb2.DESCRIPTOR.services_by_name["RoutingService"]
SERVICE_NAME = SERVICE.full_name
READY_POLL_SECONDS = 1.0
# The name on the service tokens routing signs for its calls to retrieval.
CALLER_NAME = "routing"


@dataclass
class RoutingDeps:
    """What the server needs; a channel left None is opened to settings.retrieval_target."""

    retrieval_channel: grpc.Channel | None = None
    tokens: TokenCodec | None = None  # None: the keys of the process's AuthSettings


def create_server(
    settings: RoutingSettings, deps: RoutingDeps | None = None, *, process: ProcessSettings
) -> ServerHandle:
    """Starts a routing server; it turns SERVING once retrieval is SERVING and a model is loaded (or trained)."""
    deps = deps or RoutingDeps()
    channel = deps.retrieval_channel or open_channel(settings.retrieval_target, process.tls)
    codec = deps.tokens or TokenCodec.from_settings(process.auth)
    credentials = ServiceCredentials(codec, CALLER_NAME, ttl=timedelta(seconds=process.auth.service_token_ttl_seconds))
    retrieval = RetrievalClient(channel, timeout_seconds=settings.rpc_timeout_seconds, credentials=credentials.metadata)
    bootstrap = RouterBootstrap(retrieval, settings)
    servicer = RoutingServicer(bootstrap, max_batch=settings.max_batch)
    handle = build_server(
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        service_names=[SERVICE_NAME],
        register=lambda server: routing_pb2_grpc.add_RoutingServiceServicer_to_server(servicer, server),
        metrics=server_metrics(settings),
        # Every method: a decision carries similar cases' texts. Health and reflection stay open.
        interceptors=[service_only_interceptor(SERVICE, codec)],
        tls=process.tls,
    )

    def load() -> None:
        wait_for_retrieval(channel)
        bootstrap.start()

    handle.load_then_serve(load)
    handle.on_stop.append(bootstrap.stop)
    return handle


def wait_for_retrieval(channel: grpc.Channel, *, deadline_seconds: float | None = None) -> None:
    """Polls retrieval's health until SERVING (it may still be loading its model)."""
    started = time.monotonic()
    while True:
        try:
            if serving_status(channel, timeout_seconds=READY_POLL_SECONDS, callee="retrieval") == "SERVING":
                return
        except LinliError as error:
            logger.debug("retrieval not reachable yet: %s", error)
        if deadline_seconds is not None and time.monotonic() - started > deadline_seconds:
            raise Unavailable(f"retrieval did not become SERVING within {deadline_seconds} s")
        time.sleep(READY_POLL_SECONDS)


def main() -> int:
    """Serves routing until SIGTERM or SIGINT, then stops gracefully."""
    process = ProcessSettings.from_environment()
    configure_logging("routing", process.log)
    settings = RoutingSettings()
    handle = create_server(settings, process=process)
    logger.info("routing listening", extra={"address": f"{settings.host}:{handle.port}"})
    return serve_until_stopped(handle)
