"""The per-address limit of every HTTP request, and who the client is behind trusted reverse proxies."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from linli.errors import RateLimited
from services.intake.ratelimit.limiter import RateLimiter
from services.intake.ratelimit.limiter import Scope as LimitScope

# Probes and scrapes come every few seconds from the cluster itself: never limited.
EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
UNKNOWN_CLIENT = "unknown"
STATE_KEY = "client_ip"

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _address(text: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


class ClientAddresses:
    """The client's address: the peer, or what trusted proxies say in `X-Forwarded-For`."""

    def __init__(self, trusted_proxies: Sequence[str] = ()) -> None:
        self._trusted = [ipaddress.ip_network(entry, strict=False) for entry in trusted_proxies]

    def _is_trusted(self, address: IpAddress | None) -> bool:
        return address is not None and any(address in network for network in self._trusted)

    def client_ip(self, peer: str | None, forwarded_for: str | None) -> str:
        """Walks `X-Forwarded-For` from the right while the hop that added an entry is a trusted proxy.

        A client can write anything into the header; only the entries our own proxies appended are believed, so
        the first address from the right that is not one of them is the client.
        """
        client = _address(peer or "")
        if client is None:
            return peer or UNKNOWN_CLIENT
        hops = [hop for hop in (forwarded_for or "").split(",") if hop.strip()]
        while self._is_trusted(client) and hops:
            previous = _address(hops.pop())
            if previous is None:
                break
            client = previous
        return str(client)

    def of(self, request: Request) -> str:
        """The client address of a request (as the limit middleware found it, when it ran)."""
        found = request.scope.get("state", {}).get(STATE_KEY)
        if isinstance(found, str):
            return found
        peer = request.client.host if request.client else None
        return self.client_ip(peer, request.headers.get("x-forwarded-for"))


class AddressRateLimit:
    """ASGI middleware: counts every HTTP request per client address; over the limit answers 429 itself."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limiter: RateLimiter,
        addresses: ClientAddresses,
        refuse: Callable[[RateLimited], Response],
    ) -> None:
        self._app = app
        self._limiter = limiter
        self._addresses = addresses
        self._refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        request = Request(scope)
        client = self._addresses.client_ip(
            request.client.host if request.client else None, request.headers.get("x-forwarded-for")
        )
        scope.setdefault("state", {})[STATE_KEY] = client
        if scope["path"] not in EXEMPT_PATHS:
            try:
                # The counter may be Redis: a blocking call, kept off the event loop.
                await run_in_threadpool(self._limiter.check, LimitScope.IP, client)
            except RateLimited as error:
                await self._refuse(error)(scope, receive, send)
                return
        await self._app(scope, receive, send)
