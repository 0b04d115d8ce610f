"""Tokens for tests, signed with the run's LINLI_AUTH_SECRETS (tests/conftest.py sets a random one)."""

from __future__ import annotations

from datetime import timedelta

from linli.grpc_auth import Metadata, bearer_metadata
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


def service_metadata(name: str = "test-service") -> Metadata:
    """gRPC metadata of a service (admin RPCs)."""
    return bearer_metadata(issue_token("service", name, ttl=TEST_TTL, codec=environment_codec())[0])
