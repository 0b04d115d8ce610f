"""Tokens on gRPC: the `authorization` metadata, the service-only interceptor, and self-signed service tokens.

Every RPC of retrieval and routing — reads too, since they return case texts — needs the token of a service or of
an admin worker, or a verified mTLS client certificate; health and reflection stay open (they are not methods of
the guarded service).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from datetime import timedelta

import grpc
from google.protobuf.descriptor import ServiceDescriptor

from linli.clients.calls import Metadata as Metadata  # re-exported: callers build metadata here
from linli.errors import PermissionDenied
from linli.grpc_serving import UnaryCheckInterceptor
from linli.settings import AuthSettings
from linli.tokens import Claims, TokenCodec, TokenKind, bearer_token

METADATA_KEY = "authorization"
# A cached service token is replaced this long before it expires, so no call carries one in its last seconds.
RENEW_MARGIN = timedelta(seconds=30)


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


def every_method_of(service: ServiceDescriptor) -> frozenset[str]:
    """`/package.Service/Method` of every method of a service, as gRPC names its calls."""
    return full_method_names(service.full_name, (method.name for method in service.methods))


def has_verified_client_certificate(context: grpc.ServicerContext) -> bool:
    """True when the peer presented a client certificate that the TLS handshake verified against our CA (mTLS)."""
    auth = context.auth_context()
    # gRPC sets the x509 identities only for a certificate it verified; plaintext and server-only TLS have none.
    secure = b"ssl" in (auth.get("transport_security_type") or ())
    return secure and bool(context.peer_identities())


def require_admin(codec: TokenCodec, authorization: str | None, method: str) -> Claims:
    """The claims of an admin worker's or a service's token; Unauthenticated or PermissionDenied otherwise."""
    claims = codec.verify(bearer_token(authorization))
    if not claims.is_admin:
        who = f"{claims.kind} {claims.subject}" + (f" ({claims.role})" if claims.role else "")
        raise PermissionDenied(f"{method} needs an admin worker's or a service's token, not that of {who}")
    return claims


class ServiceOnlyInterceptor(UnaryCheckInterceptor):
    """Lets the guarded methods run only for admin or service tokens, or a verified mTLS client; others pass.

    Install it after the domain-error interceptor (build_server's `interceptors`): its errors then become
    UNAUTHENTICATED and PERMISSION_DENIED with their messages.
    """

    def __init__(self, codec: TokenCodec, guarded_methods: frozenset[str]) -> None:
        self._codec = codec
        self._guarded_methods = guarded_methods

    def applies_to(self, method: str) -> bool:
        """Only the guarded methods are checked (health and reflection are not among them)."""
        return method in self._guarded_methods

    def check(self, method: str, context: grpc.ServicerContext) -> None:
        """Raises unless the call carries an admin worker's or a service's token, or comes over mTLS."""
        if has_verified_client_certificate(context):
            return
        require_admin(self._codec, authorization_of(context.invocation_metadata()), method.rsplit("/", 1)[-1])


def service_only_interceptor(service: ServiceDescriptor, codec: TokenCodec) -> ServiceOnlyInterceptor:
    """The interceptor that lets only services and admins (token or mTLS) call any method of `service`."""
    return ServiceOnlyInterceptor(codec, every_method_of(service))


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
