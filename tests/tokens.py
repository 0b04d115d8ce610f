"""Tokens for tests, signed with the run's LINLI_AUTH_SECRETS (tests/conftest.py sets a random one)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, NamedTuple

import grpc

from linli.grpc_auth import Metadata, authorization_of, bearer_metadata
from linli.settings import AuthSettings
from linli.tokens import TokenCodec
from services.intake.auth.tokens import issue_token

TEST_TTL = timedelta(hours=2)


def environment_codec() -> TokenCodec:
    """The codec of the run's LINLI_AUTH_SECRETS, as a process's main() would build it."""
    return TokenCodec.from_settings(AuthSettings())


def resident_token(resident_id: str) -> str:
    """A resident's token, as the login exchange would give."""
    return issue_token("resident", resident_id, ttl=TEST_TTL, codec=environment_codec())[0]


def worker_token(worker_id: str, party: str, community: str = "", role: str = "worker") -> str:
    """A worker's token, as `linli token issue` would print."""
    return issue_token(
        "worker", worker_id, party=party, community=community, role=role, ttl=TEST_TTL, codec=environment_codec()
    )[0]


def bearer(token: str) -> dict[str, str]:
    """HTTP headers carrying `token`."""
    return {"Authorization": f"Bearer {token}"}


def as_resident(resident_id: str) -> dict[str, str]:
    """HTTP headers of a resident."""
    return bearer(resident_token(resident_id))


def as_worker(worker_id: str, party: str, community: str = "", role: str = "worker") -> dict[str, str]:
    """HTTP headers of a worker."""
    return bearer(worker_token(worker_id, party, community, role))


def resident_metadata(resident_id: str) -> Metadata:
    """gRPC metadata of a resident."""
    return bearer_metadata(resident_token(resident_id))


def worker_metadata(worker_id: str, party: str, community: str = "", role: str = "worker") -> Metadata:
    """gRPC metadata of a worker."""
    return bearer_metadata(worker_token(worker_id, party, community, role))


def service_token(name: str = "test-service") -> str:
    """A service's token, as a linli process signs for itself."""
    return issue_token("service", name, ttl=TEST_TTL, codec=environment_codec())[0]


def service_metadata(name: str = "test-service") -> Metadata:
    """gRPC metadata of a service (every RPC of retrieval and routing)."""
    return bearer_metadata(service_token(name))


class _CallDetails(
    NamedTuple(
        "_CallDetails",
        [
            ("method", str),
            ("timeout", Any),
            ("metadata", Any),
            ("credentials", Any),
            ("wait_for_ready", Any),
            ("compression", Any),
        ],
    ),
    grpc.ClientCallDetails,
):
    """A call's details with other metadata."""


class _ServiceTokenInterceptor(grpc.UnaryUnaryClientInterceptor):  # type: ignore[type-arg]
    """Adds a service's token to every call that brings no `authorization` of its own."""

    def __init__(self, name: str) -> None:
        self._metadata = service_metadata(name)

    def intercept_unary_unary(
        self, continuation: Callable[[grpc.ClientCallDetails, Any], Any], details: grpc.ClientCallDetails, request: Any
    ) -> Any:
        if authorization_of(details.metadata) is None:
            details = _CallDetails(
                details.method,
                details.timeout,
                (*(details.metadata or ()), *self._metadata),
                details.credentials,
                getattr(details, "wait_for_ready", None),
                getattr(details, "compression", None),
            )
        return continuation(details, request)


def as_service(channel: grpc.Channel, name: str = "test-service") -> grpc.Channel:
    """`channel` whose calls carry a service's token, as routing's and the worker's do (retrieval and routing
    answer services only)."""
    return grpc.intercept_channel(channel, _ServiceTokenInterceptor(name))


def service_credentials(name: str = "test-service") -> Callable[[], Metadata]:
    """What a RetrievalClient or RoutingClient of a test sends: a service's token."""
    metadata = service_metadata(name)
    return lambda: metadata
