"""Turns an `Authorization: Bearer <token>` header or gRPC metadata into a caller."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable

from linli.errors import Unauthenticated
from linli.grpc_auth import authorization_of
from linli.tokens import TokenCodec, bearer_token
from services.intake.auth.identity import Caller, Worker, caller_of
from services.intake.auth.revocations import Revocations

# A street's code -> the names of its communities (the organisation tables, services/intake/organisation).
StreetCommunities = Callable[[str], frozenset[str]]


class Authenticator:
    """Verifies bearer tokens with the keys of `LINLI_AUTH_SECRETS`, refuses those of revoked subjects, and gives a
    street office worker the communities their street has now."""

    def __init__(
        self,
        codec: TokenCodec,
        revocations: Revocations | None = None,
        street_communities: StreetCommunities | None = None,
    ) -> None:
        self.codec = codec
        # None: no deny-list (processes without the ticket database); the signature and expiry alone decide.
        self.revocations = revocations
        # None: no organisation tables; a street's worker then serves no community (never every one).
        self.street_communities = street_communities

    def identify(self, authorization: str | None) -> Caller:
        """The caller behind an `Authorization` value; raises Unauthenticated for a missing, bad or revoked token."""
        claims = self.codec.verify(bearer_token(authorization))
        if self.revocations is not None and self.revocations.is_revoked(claims):
            raise Unauthenticated("token revoked")
        caller = caller_of(claims)
        if isinstance(caller, Worker) and caller.street:
            # Resolved at every read, not signed in: a community added to the street is served at once.
            resolved = self.street_communities(caller.street) if self.street_communities else frozenset()
            caller = dataclasses.replace(caller, street_communities=resolved)
        return caller

    def identify_in_memory(self, authorization: str | None) -> Caller | None:
        """`identify` when it needs no database: None when the revoked subjects are due for a re-read or the caller
        is a street office worker (their street's communities are read); raises Unauthenticated as `identify` does."""
        claims = self.codec.verify(bearer_token(authorization))
        revoked = self.revocations.is_revoked_in_memory(claims) if self.revocations is not None else False
        if revoked is None:
            return None
        if revoked:
            raise Unauthenticated("token revoked")
        caller = caller_of(claims)
        return None if isinstance(caller, Worker) and caller.street else caller

    def identify_metadata(self, metadata: Iterable[tuple[str, str | bytes]] | None) -> Caller:
        """The caller named by the gRPC metadata `authorization`."""
        return self.identify(authorization_of(metadata))
