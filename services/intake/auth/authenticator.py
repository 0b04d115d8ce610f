"""Turns an `Authorization: Bearer <token>` header or gRPC metadata into a caller."""

from __future__ import annotations

from collections.abc import Iterable

from linli.errors import Unauthenticated
from linli.grpc_auth import authorization_of
from linli.tokens import TokenCodec, bearer_token
from services.intake.auth.identity import Caller, caller_of
from services.intake.auth.revocations import Revocations


class Authenticator:
    """Verifies bearer tokens with the keys of `LINLI_AUTH_SECRETS`, and refuses those of revoked subjects."""

    def __init__(self, codec: TokenCodec, revocations: Revocations | None = None) -> None:
        self.codec = codec
        # None: no deny-list (processes without the ticket database); the signature and expiry alone decide.
        self.revocations = revocations

    def identify(self, authorization: str | None) -> Caller:
        """The caller behind an `Authorization` value; raises Unauthenticated for a missing, bad or revoked token."""
        claims = self.codec.verify(bearer_token(authorization))
        if self.revocations is not None and self.revocations.is_revoked(claims):
            raise Unauthenticated("token revoked")
        return caller_of(claims)

    def identify_metadata(self, metadata: Iterable[tuple[str, str | bytes]] | None) -> Caller:
        """The caller named by the gRPC metadata `authorization`."""
        return self.identify(authorization_of(metadata))
