"""The per-address limit of every gRPC call to intake, as `AddressRateLimit` does for HTTP."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import grpc

from services.intake.ratelimit.limiter import RateLimiter, Scope

# Kubernetes probes and `linli health` call these every few seconds: never limited.
EXEMPT_SERVICES = ("/grpc.health.v1.Health/", "/grpc.reflection.")
_PEER = re.compile(r"^ipv4:(?P<v4>[^:]+):\d+$|^ipv6:\[(?P<v6>[^\]]+)\]:\d+$")


def peer_address(peer: str) -> str:
    """The client address of a gRPC peer string (`ipv4:10.0.0.7:51234`, `ipv6:[::1]:51234`); other transports
    (unix sockets) are returned whole, so they still count as one client."""
    found = _PEER.match(peer)
    if found is None:
        return peer or "unknown"
    return found.group("v4") or found.group("v6")


class PeerRateLimitInterceptor(grpc.ServerInterceptor):  # type: ignore[type-arg]
    """Counts each unary call per client address in `Scope.IP`; over the limit the call is RESOURCE_EXHAUSTED.

    gRPC carries no X-Forwarded-For: behind an L7 proxy every call shares the proxy's address, so set the limit
    with that in mind (or to 0) there.
    """

    def __init__(self, limiter: RateLimiter) -> None:
        self._limiter = limiter

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler[Any, Any] | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or handler.unary_unary is None or method.startswith(EXEMPT_SERVICES):
            return handler
        inner = handler.unary_unary

        def limited(request: Any, context: grpc.ServicerContext) -> Any:
            # Raises RateLimited, which the domain-error interceptor outside this one turns into RESOURCE_EXHAUSTED.
            self._limiter.check(Scope.IP, peer_address(context.peer()))
            return inner(request, context)

        return grpc.unary_unary_rpc_method_handler(
            limited,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
