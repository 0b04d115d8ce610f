"""Prometheus metrics every linli service shares: RPC latency and codes, request ids, and the /metrics endpoint.

Each service keeps its own metric definitions in `services/<service>/metrics.py`, registered in a module registry;
a running server exposes that registry plus collectors read at scrape time (index size, tickets by status).
Labels are bounded on purpose: a method, a status code, a party, never an id or any text.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from wsgiref.simple_server import WSGIServer

import grpc
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.registry import Collector

from linli.logs import REQUEST_ID_HEADER, log_context, request_id_or_new

logger = logging.getLogger(__name__)

# From a fast health check (~1 ms) to a cold model load; the 10 s routing deadline falls in the last buckets.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_SERVICE_NAME = re.compile(r"^[a-z][a-z_]*$")

ResponseHook = Callable[[Any], None]


def method_label(full_method: str) -> str:
    """`/linli.v1.RetrievalService/SearchCases` → `RetrievalService/SearchCases`: short, yet unambiguous."""
    service, _, method = full_method.lstrip("/").rpartition("/")
    return f"{service.rpartition('.')[2]}/{method}"


class RpcMetrics:
    """`linli_<service>_rpc_seconds` and `linli_<service>_rpc_total`, both by method and status code."""

    def __init__(self, service: str, registry: CollectorRegistry) -> None:
        if not _SERVICE_NAME.match(service):
            raise ValueError(f"service name must be lower-case letters and underscores, got {service!r}")
        self.service = service
        self.seconds = Histogram(
            f"linli_{service}_rpc_seconds",
            f"Time the {service} server spent on each RPC, by method and status code.",
            ["method", "code"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.total = Counter(
            f"linli_{service}_rpc",
            f"RPCs the {service} server answered, by method and status code.",
            ["method", "code"],
            registry=registry,
        )

    def observe(self, method: str, code: grpc.StatusCode, seconds: float) -> None:
        """Records one answered RPC."""
        self.seconds.labels(method, code.name).observe(seconds)
        self.total.labels(method, code.name).inc()


@dataclass(frozen=True)
class ServiceMetrics:
    """A service's RPC metrics, its module registry, and hooks that read metrics off its responses.

    Attributes:
        rpc: latency and count of every RPC.
        registry: the registry the service module defines its metrics in.
        response_hooks: method label (`RoutingService/Route`) → function called with each OK response.
    """

    rpc: RpcMetrics
    registry: CollectorRegistry
    response_hooks: Mapping[str, ResponseHook] = field(default_factory=dict)


def exposed_registry(*collectors: Collector) -> CollectorRegistry:
    """A registry for one running server: the service's module registry plus collectors of that server."""
    registry = CollectorRegistry()
    for collector in collectors:
        registry.register(collector)
    return registry


class MetricsInterceptor(grpc.ServerInterceptor):  # type: ignore[type-arg]
    """Times every unary RPC, counts it by final status code, and gives its log lines a request id.

    It must run outside the domain-error interceptor so it sees the code a domain error was turned into.
    """

    def __init__(self, metrics: ServiceMetrics) -> None:
        self._metrics = metrics

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler[Any, Any] | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        inner = handler.unary_unary
        method = method_label(handler_call_details.method)
        incoming = dict(handler_call_details.invocation_metadata or ())
        sent_id = incoming.get(REQUEST_ID_HEADER)
        request_id = request_id_or_new(sent_id if isinstance(sent_id, str) else None)
        hook = self._metrics.response_hooks.get(method)

        def observed(request: Any, context: grpc.ServicerContext) -> Any:
            started = time.perf_counter()
            code = grpc.StatusCode.UNKNOWN
            with log_context(request_id=request_id):
                try:
                    response = inner(request, context)
                    code = context.code() or grpc.StatusCode.OK  # type: ignore[attr-defined]
                    if hook is not None and code is grpc.StatusCode.OK:
                        _run_hook(hook, response, method)
                    return response
                except Exception:
                    # An abort leaves its code on the context; anything else grpc reports as UNKNOWN.
                    code = context.code() or grpc.StatusCode.UNKNOWN  # type: ignore[attr-defined]
                    raise
                finally:
                    self._metrics.rpc.observe(method, code, time.perf_counter() - started)

        return grpc.unary_unary_rpc_method_handler(
            observed,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


def _run_hook(hook: ResponseHook, response: Any, method: str) -> None:
    try:
        hook(response)
    except Exception:
        # A metric must never fail the call it describes.
        logger.exception("metrics hook failed", extra={"method": method})


class MetricsEndpoint:
    """An HTTP server answering Prometheus scrapes from one registry, on its own thread."""

    def __init__(self, server: WSGIServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread

    @property
    def port(self) -> int:
        """The bound port (useful when 0 asked for a free one)."""
        return int(self._server.server_port)

    def stop(self) -> None:
        """Stops answering and closes the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def start_metrics_endpoint(registry: CollectorRegistry, *, host: str, port: int | None) -> MetricsEndpoint | None:
    """Serves `registry` over HTTP on host:port (0 picks a free port); None when disabled or the port is taken.

    A taken port is logged as an error rather than raised: a missing /metrics must not stop tickets from being
    routed, and Prometheus shows the target as down.
    """
    if port is None:
        return None
    try:
        server, thread = start_http_server(port, addr=host, registry=registry)
    except OSError as error:
        logger.error("metrics endpoint not started: %s", error, extra={"address": f"{host}:{port}"})
        return None
    endpoint = MetricsEndpoint(server, thread)
    logger.info("metrics listening", extra={"address": f"{host}:{endpoint.port}"})
    return endpoint


@dataclass(frozen=True)
class ServerMetrics:
    """What one gRPC server records and where it shows it.

    Attributes:
        service: the service's metric definitions.
        port: metrics port; None when the process shows /metrics elsewhere (intake, on its HTTP app).
        host: address the metrics endpoint binds.
        collectors: read at scrape time, for this server only (index size, snapshot age).
    """

    service: ServiceMetrics
    port: int | None = None
    host: str = "127.0.0.1"
    collectors: Sequence[Collector] = ()

    def registry(self) -> CollectorRegistry:
        """The registry this server exposes."""
        return exposed_registry(self.service.registry, *self.collectors)

    def interceptors(self) -> Iterable[grpc.ServerInterceptor[Any, Any]]:
        """The interceptors that record this server's RPCs."""
        return (MetricsInterceptor(self.service),)
