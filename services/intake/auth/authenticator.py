"""Turns an `Authorization: Bearer <token>` header or gRPC metadata into a caller."""

from __future__ import annotations

from collections.abc import Iterable

from linli.grpc_auth import authorization_of
from linli.tokens import TokenCodec, bearer_token
from services.intake.auth.identity import Caller, caller_of


class Authenticator:
    """Verifies bearer tokens with the keys of `LINLI_AUTH_SECRETS`."""

    def __init__(self, codec: TokenCodec) -> None:
        self.codec = codec

    def identify(self, authorization: str | None) -> Caller:
        """The caller behind an `Authorization` value; raises Unauthenticated for a missing or bad token."""
        return caller_of(self.codec.verify(bearer_token(authorization)))

    def identify_metadata(self, metadata: Iterable[tuple[str, str | bytes]] | None) -> Caller:
        """The caller named by the gRPC metadata `authorization`."""
        return self.identify(authorization_of(metadata))
