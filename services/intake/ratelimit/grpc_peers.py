"""The per-address limit of every gRPC call to intake, as `AddressRateLimit` does for HTTP."""

from __future__ import annotations

import re

import grpc

from linli.grpc_serving import UnaryCheckInterceptor
from services.intake.ratelimit.http import ClientAddresses
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


class PeerRateLimitInterceptor(UnaryCheckInterceptor):
    """Counts each unary call per client address in `Scope.IP`; over the limit the call is RESOURCE_EXHAUSTED.

    An `x-forwarded-for` metadata entry names the client only when the peer is one of the trusted proxies
    (`LINLI_RATE_TRUSTED_PROXIES`, none by default), as over HTTP; from anyone else it is ignored.
    """

    def __init__(self, limiter: RateLimiter, addresses: ClientAddresses | None = None) -> None:
        self._limiter = limiter
        self._addresses = addresses or ClientAddresses()

    def applies_to(self, method: str) -> bool:
        """Every method but health checks and reflection."""
        return not method.startswith(EXEMPT_SERVICES)

    def check(self, method: str, context: grpc.ServicerContext) -> None:
        """Raises RateLimited when the caller's address is over its limit."""
        forwarded = [value for key, value in context.invocation_metadata() or () if key == "x-forwarded-for"]
        client = self._addresses.client_ip(peer_address(context.peer()), ",".join(map(str, forwarded)) or None)
        self._limiter.check(Scope.IP, client)
