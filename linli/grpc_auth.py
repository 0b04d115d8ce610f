"""Tokens on gRPC: the `authorization` metadata, the admin-only RPCs' interceptor, and self-signed service tokens.

Read RPCs (Search, Embed, Route, ...) stay open inside the cluster; the ones that change the catalog, the index or
the model need the token of an admin worker or of a service.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from datetime import timedelta

import grpc

from linli.errors import PermissionDenied
from linli.grpc_serving import UnaryCheckInterceptor
from linli.settings import AuthSettings
from linli.tokens import Claims, TokenCodec, TokenKind, bearer_token

METADATA_KEY = "authorization"
# A cached service token is replaced this long before it expires, so no call carries one in its last seconds.
RENEW_MARGIN = timedelta(seconds=30)

Metadata = tuple[tuple[str, str], ...]


def authorization_of(metadata: Iterable[tuple[str, str | bytes]] | None) -> str | None:
    """The `authorization` value of a call's metadata, if any."""
    for key, value in metadata or ():
        if key.lower() == METADATA_KEY:
            return value.decode() if isinstance(value, bytes) else value
    return None


def bearer_metadata(token: str) -> Metadata:
    """Call metadata carrying `token`."""
    return ((METADATA_KEY, f"Bearer {token}"),)


def full_method_names(service: str, methods: Iterable[str]) -> frozenset[str]:
    """`/package.Service/Method` for each method, as gRPC names a call."""
    return frozenset(f"/{service}/{method}" for method in methods)


def require_admin(codec: TokenCodec, authorization: str | None, method: str) -> Claims:
    """The claims of an admin worker's or a service's token; Unauthenticated or PermissionDenied otherwise."""
    claims = codec.verify(bearer_token(authorization))
    if not claims.is_admin:
        who = f"{claims.kind} {claims.subject}" + (f" ({claims.role})" if claims.role else "")
        raise PermissionDenied(f"{method} needs an admin worker's or a service's token, not that of {who}")
    return claims


class AdminInterceptor(UnaryCheckInterceptor):
    """Lets the admin methods run only for admin or service tokens; every other method passes untouched.

    Install it after the domain-error interceptor (build_server's `interceptors`): its errors then become
    UNAUTHENTICATED and PERMISSION_DENIED with their messages.
    """

    def __init__(self, codec: TokenCodec, admin_methods: frozenset[str]) -> None:
        self._codec = codec
        self._admin_methods = admin_methods

    def applies_to(self, method: str) -> bool:
        """Only the admin methods are checked."""
        return method in self._admin_methods

    def check(self, method: str, context: grpc.ServicerContext) -> None:
        """Raises unless the call carries an admin worker's or a service's token."""
        require_admin(self._codec, authorization_of(context.invocation_metadata()), method.rsplit("/", 1)[-1])


def admin_interceptor(service: str, methods: Iterable[str], codec: TokenCodec) -> AdminInterceptor:
    """The interceptor guarding `methods` of `service` with the keys of `codec` (`LINLI_AUTH_SECRETS`)."""
    return AdminInterceptor(codec, full_method_names(service, methods))


class ServiceCredentials:
    """Short-lived service tokens a process signs itself with the shared key, renewed before they expire."""

    def __init__(self, codec: TokenCodec, name: str, *, ttl: timedelta, clock: Callable[[], float] = time.time) -> None:
        self._codec = codec
        self._name = name
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._token = ""
        self._renew_at = 0.0

    @classmethod
    def from_settings(cls, name: str, settings: AuthSettings) -> ServiceCredentials:
        """Credentials signed with `LINLI_AUTH_SECRETS`, valid `LINLI_AUTH_SERVICE_TOKEN_TTL_SECONDS`."""
        ttl = timedelta(seconds=settings.service_token_ttl_seconds)
        return cls(TokenCodec.from_settings(settings), name, ttl=ttl, clock=time.time)

    def metadata(self) -> Metadata:
        """Call metadata with a token that stays valid for at least RENEW_MARGIN."""
        with self._lock:
            if self._clock() >= self._renew_at:
                self._token, claims = self._codec.issue(TokenKind.SERVICE, self._name, ttl=self._ttl)
                self._renew_at = claims.expires_at.timestamp() - RENEW_MARGIN.total_seconds()
            return bearer_metadata(self._token)


def admin_metadata(name: str, settings: AuthSettings) -> Metadata:
    """What a CLI command sends to an admin RPC: `LINLI_AUTH_ADMIN_TOKEN`, else a service token it signs itself."""
    if settings.admin_token is not None:
        return bearer_metadata(settings.admin_token.get_secret_value())
    return ServiceCredentials.from_settings(name, settings).metadata()
