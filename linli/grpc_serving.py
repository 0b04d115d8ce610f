"""What every linli gRPC server shares: the domain-error interceptor, health, reflection, TLS and graceful stop."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from grpc_status import rpc_status

from linli.deadlines import caller_deadline
from linli.errors import InvalidArgument, LinliError, RateLimited
from linli.grpc_tls import server_credentials
from linli.heap import freeze_startup_objects
from linli.metrics import MetricsEndpoint, ServerMetrics, start_metrics_endpoint
from linli.settings import GrpcTlsSettings

logger = logging.getLogger(__name__)

GRACE_SECONDS = 5.0
# Status message and details travel in trailing metadata, which clients cap at 8 KiB by default: a message echoing
# a 100,000-character input reached the client as RESOURCE_EXHAUSTED instead of its own status. Non-ASCII text is
# percent-encoded (9 bytes a Chinese character) and details base64-encoded, so even the worst case fits in these.
MAX_MESSAGE_CHARS = 300
MAX_VIOLATIONS = 10
MAX_VIOLATION_CHARS = 100


# A client resolves its target's addresses again when a connection closes. Closing each connection after a few
# minutes (GOAWAY: calls in flight finish first) makes a client that balances over a headless Service's pods find a
# replica that started after it connected, instead of staying on the replicas it met first (grpc's MAX_CONNECTION_AGE).
CONNECTION_AGE_OPTIONS = [("grpc.max_connection_age_ms", 300_000), ("grpc.max_connection_age_grace_ms", 30_000)]


def _cut(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def status_for(error: LinliError) -> grpc.Status:
    """A rich gRPC status for a domain error; field violations travel as google.rpc.BadRequest."""
    details: list[any_pb2.Any] = []
    if error.violations:
        bad_request = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field=_cut(v.field, MAX_VIOLATION_CHARS), description=_cut(v.description, MAX_VIOLATION_CHARS)
                )
                for v in error.violations[:MAX_VIOLATIONS]
            ]
        )
        packed = any_pb2.Any()
        packed.Pack(bad_request)
        details.append(packed)
    if isinstance(error, RateLimited):  # when to come back, as google.rpc.RetryInfo (HTTP says Retry-After)
        retry = any_pb2.Any()
        retry.Pack(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=error.retry_after_seconds)))
        details.append(retry)
    code = getattr(code_pb2, error.grpc_code.name)
    return rpc_status.to_status(status_pb2.Status(code=code, message=_cut(error.message), details=details))


@dataclass(frozen=True)
class _Undecodable:
    """Request bytes that are not the method's message: the client's fault, answered INVALID_ARGUMENT."""

    reason: str


def _tolerant(deserialize: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    # grpc answers a deserializer's exception with INTERNAL; hand the handler a marker to refuse instead.
    if deserialize is None:
        return None

    def parse(data: bytes) -> Any:
        try:
            return deserialize(data)
        except Exception as error:
            return _Undecodable(str(error) or type(error).__name__)

    return parse


class DomainErrorInterceptor(grpc.ServerInterceptor):  # type: ignore[type-arg]
    """Turns LinliError into its own status code; only a real bug becomes INTERNAL (and is logged).

    It also hands the call's remaining time to linli/clients, which cut their own calls' timeouts to it.

    Request bytes that do not decode as the method's message are INVALID_ARGUMENT too, not grpc's INTERNAL.
    """

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler[Any, Any] | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        inner = handler.unary_unary
        method = handler_call_details.method

        def guarded(request: Any, context: grpc.ServicerContext) -> Any:
            try:
                if isinstance(request, _Undecodable):
                    raise InvalidArgument(f"the request does not decode as this method's message: {request.reason}")
                # Calls this handler makes to other services end before its own client stops waiting.
                with caller_deadline(context.time_remaining()):
                    return inner(request, context)
            except LinliError as error:
                context.abort_with_status(status_for(error))
            except Exception:
                # ServicerContext.code() exists since grpcio 1.38; the stubs predate it.
                if context.code() not in (None, grpc.StatusCode.OK):  # type: ignore[attr-defined]
                    raise  # the handler aborted on purpose; keep its status
                logger.exception("unhandled error in %s", method)
                context.abort(grpc.StatusCode.INTERNAL, "internal error; the server log has the details")
            raise AssertionError("unreachable: abort always raises")

        return grpc.unary_unary_rpc_method_handler(
            guarded,
            request_deserializer=_tolerant(handler.request_deserializer),
            response_serializer=handler.response_serializer,
        )


class UnaryCheckInterceptor(grpc.ServerInterceptor):  # type: ignore[type-arg]
    """Base of interceptors that check a unary call before it runs and refuse it by raising a LinliError.

    Install them after the domain-error interceptor (build_server's `interceptors`), which turns the error into
    its status code. Subclasses say which methods they look at and what they check.
    """

    def applies_to(self, method: str) -> bool:
        """True when calls of `method` (`/package.Service/Method`) are checked; every one by default."""
        return True

    def check(self, method: str, context: grpc.ServicerContext) -> None:
        """Raises a LinliError to refuse the call."""
        raise NotImplementedError

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler[Any, Any] | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or handler.unary_unary is None or not self.applies_to(method):
            return handler
        inner = handler.unary_unary

        def checked(request: Any, context: grpc.ServicerContext) -> Any:
            self.check(method, context)
            return inner(request, context)

        return grpc.unary_unary_rpc_method_handler(
            checked,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


@dataclass
class ServerHandle:
    """A built server, its bound port, its health servicer and whether its dependencies are loaded."""

    server: grpc.Server
    port: int
    health: health.HealthServicer
    service_names: tuple[str, ...]
    ready: threading.Event = field(default_factory=threading.Event)
    loaded: threading.Event = field(default_factory=threading.Event)
    load_error: BaseException | None = None
    metrics_endpoint: MetricsEndpoint | None = None
    # Called after the server stopped taking calls: background work of the service (watchers, timers) ends here.
    on_stop: list[Callable[[], None]] = field(default_factory=list)

    @property
    def metrics_port(self) -> int | None:
        """Port of this server's /metrics, or None when it has none of its own."""
        return None if self.metrics_endpoint is None else self.metrics_endpoint.port

    def wait_ready(self, timeout: float) -> bool:
        """Waits until loading ended; True if the server is SERVING, False if loading failed or timed out."""
        self.loaded.wait(timeout)
        return self.ready.is_set()

    def load_then_serve(self, load: Callable[[], None]) -> threading.Thread:
        """Runs `load` (model, index, database) in the background, then reports SERVING.

        The port answers health checks at once, NOT_SERVING until `load` returns; if it raises, the server stays
        NOT_SERVING and `load_error` holds why.
        """

        def run() -> None:
            try:
                load()
            except BaseException as error:
                logger.exception("loading failed; the server stays NOT_SERVING")
                self.load_error = error
                self.loaded.set()
                return
            self.set_serving(True)
            self.ready.set()
            self.loaded.set()
            logger.info("serving", extra={"port": self.port, "services": list(self.service_names)})

        thread = threading.Thread(target=run, name="load", daemon=True)
        thread.start()
        return thread

    def set_serving(self, serving: bool) -> None:
        """Marks the whole server and each of its services SERVING or NOT_SERVING."""
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in ("", *self.service_names):
            self.health.set(name, status)

    def stop(self, grace: float = GRACE_SECONDS) -> None:
        """Stops taking calls, lets running ones finish for `grace` seconds, then returns."""
        self.health.enter_graceful_shutdown()
        self.server.stop(grace).wait()
        for callback in self.on_stop:
            callback()
        if self.metrics_endpoint is not None:  # last, so the final scrape still sees the calls that drained
            self.metrics_endpoint.stop()


def build_server(
    *,
    host: str,
    port: int,
    workers: int,
    service_names: Sequence[str],
    register: Callable[[grpc.Server], None],
    interceptors: Iterable[grpc.ServerInterceptor[Any, Any]] = (),
    metrics: ServerMetrics | None = None,
    tls: GrpcTlsSettings,
) -> ServerHandle:
    """Builds and starts a server with health (NOT_SERVING until the caller says ready) and reflection.

    Args:
        host: address to bind.
        port: port to bind; 0 picks a free one, reported in the handle.
        workers: handler threads.
        service_names: full names of the business services, for health and reflection.
        register: adds the business servicers to the server.
        interceptors: extra interceptors, run after the domain-error one.
        metrics: what to record (RPC latency and codes, request ids in logs) and where to show it.
        tls: TLS of the port (`LINLI_GRPC_TLS_*`), as the process read it at start. Off: plaintext.
    """
    credentials = server_credentials(tls)
    observing = list(metrics.interceptors()) if metrics is not None else []
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grpc"),
        # Metrics outermost: they see the status code a domain error was turned into.
        interceptors=[*observing, DomainErrorInterceptor(), *interceptors],
        options=CONNECTION_AGE_OPTIONS,
    )
    register(server)
    health_servicer = health.HealthServicer(experimental_non_blocking=True)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection((*service_names, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    address = f"{host}:{port}"
    bound = server.add_insecure_port(address) if credentials is None else server.add_secure_port(address, credentials)
    if bound == 0:
        raise OSError(f"could not bind {host}:{port}")
    handle = ServerHandle(server, bound, health_servicer, tuple(service_names))
    # Before the port opens: grpc's health servicer says SERVING for "" until told otherwise, and a readiness check
    # landing in that window (the dev stack's, a probe's) would believe a server that has loaded nothing yet.
    handle.set_serving(False)
    server.start()
    if metrics is not None:
        handle.metrics_endpoint = start_metrics_endpoint(metrics.registry(), host=metrics.host, port=metrics.port)
    return handle


def serve_until_stopped(handle: ServerHandle, stop_server: Callable[[], None] | None = None) -> int:
    """Blocks until SIGTERM or SIGINT (or a failed load), then stops gracefully; returns the exit code.

    A server whose model or database never loads exits non-zero instead of idling NOT_SERVING, so the
    orchestrator restarts it and someone sees why.
    """
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        logger.info("received %s, stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    frozen = False
    while not stop.wait(0.5):
        if handle.load_error is not None:
            break
        if handle.ready.is_set() and not frozen:  # the model, catalog and index are built: they live till exit
            freeze_startup_objects()
            frozen = True
    (stop_server or handle.stop)()
    return 0 if handle.load_error is None else 1
