"""Signed, expiring bearer tokens shared by every service: `payload.signature`, both base64url without padding.

The payload is compact JSON (kind, subject, party, community, role, issued-at, expiry, and for a street office's
worker the street, absent from older tokens); the signature is
HMAC-SHA256 of the encoded payload under the first of `LINLI_AUTH_SECRETS`. Every key of that list verifies, so a
key is rotated by putting the new one first and dropping the old one once the tokens it signed have expired.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from linli.errors import InvalidArgument, Unauthenticated
from linli.parties import is_party_id
from linli.settings import MIN_AUTH_SECRET_LENGTH, AuthSettings

FORMAT_VERSION = 1
# Far longer than any token we sign; a longer header is refused before any decoding work.
MAX_TOKEN_LENGTH = 2048
MAX_SUBJECT_LENGTH = 128
MAX_TTL = timedelta(days=366)
# Clocks of two hosts disagree by a little: tolerated on the issued-at side only, never on expiry.
CLOCK_SKEW_SECONDS = 60
# Tokens whose signature a codec remembers having verified; beyond this many it forgets them all and starts again.
VERIFIED_TOKENS_KEPT = 1024


class TokenKind(StrEnum):
    """Who a token stands for."""

    RESIDENT = "resident"
    WORKER = "worker"
    SERVICE = "service"


class Role(StrEnum):
    """What a worker may do beyond their own party's tickets."""

    WORKER = "worker"
    DISPATCHER = "dispatcher"  # also routes the community's manual queue
    ADMIN = "admin"  # also the catalog and model operations (ReloadModel, UpsertCases, ...)


@dataclass(frozen=True)
class Claims:
    """What a verified token says; party, community, street and role are a worker's only (community or street,
    never both: a street's worker serves every community of the street)."""

    kind: TokenKind
    subject: str
    issued_at: datetime
    expires_at: datetime
    party: str = ""
    community: str = ""
    role: Role | None = None
    street: str = ""

    @property
    def is_admin(self) -> bool:
        """True for the tokens that may call catalog and model operations: admins and services."""
        return self.kind is TokenKind.SERVICE or (self.kind is TokenKind.WORKER and self.role is Role.ADMIN)


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    # Strict alphabet: a token with '+', '/' or '=' is not one we wrote.
    if not text or not text.replace("-", "").replace("_", "").isalnum() or not text.isascii():
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def check_claims(
    kind: TokenKind, subject: str, *, party: str, community: str, role: Role | None, street: str = ""
) -> None:
    """Raises InvalidArgument when the fields do not make a token of `kind` (e.g. a worker without a party)."""
    if not 0 < len(subject) <= MAX_SUBJECT_LENGTH or not subject.isprintable():
        raise InvalidArgument.for_field("subject", f"must be 1-{MAX_SUBJECT_LENGTH} printable characters")
    if kind is TokenKind.WORKER:
        if not is_party_id(party):
            raise InvalidArgument.for_field("party", "a worker's token needs a party id such as property_manager")
        if role is None:
            raise InvalidArgument.for_field("role", "a worker's token needs a role")
        if community and street:
            raise InvalidArgument.for_field("street", "a worker serves one community or one street, not both")
        if len(street) > MAX_SUBJECT_LENGTH or not street.isprintable():
            raise InvalidArgument.for_field("street", f"must be at most {MAX_SUBJECT_LENGTH} printable characters")
    elif party or community or street or role is not None:
        raise InvalidArgument.for_field("kind", f"a {kind} token carries no party, community, street or role")


class TokenCodec:
    """Signs and verifies tokens with the keys of `LINLI_AUTH_SECRETS` (the first signs, all verify)."""

    def __init__(self, keys: Sequence[bytes], *, clock: Callable[[], float] = time.time) -> None:
        if not keys:
            raise ValueError("a token codec needs at least one key")
        if any(len(key) < MIN_AUTH_SECRET_LENGTH for key in keys):
            raise ValueError(f"every key must be at least {MIN_AUTH_SECRET_LENGTH} bytes")
        self._keys = tuple(keys)
        self._clock = clock
        # A token's text fixes its claims and the keys are fixed for the codec's life, so a token verified once needs
        # only its times checked again: services send the same token with every call.
        self._verified: dict[str, Claims] = {}

    @classmethod
    def from_settings(cls, settings: AuthSettings) -> TokenCodec:
        """The codec of `LINLI_AUTH_SECRETS`; raises RuntimeError, saying what to set, when there is none."""
        return cls(settings.signing_keys())

    def issue(
        self,
        kind: TokenKind,
        subject: str,
        *,
        ttl: timedelta,
        party: str = "",
        community: str = "",
        role: Role | None = None,
        street: str = "",
    ) -> tuple[str, Claims]:
        """A signed token and its claims; raises InvalidArgument for fields that do not fit the kind."""
        check_claims(kind, subject, party=party, community=community, role=role, street=street)
        if not timedelta(0) < ttl <= MAX_TTL:
            raise InvalidArgument.for_field("ttl", f"must be positive and at most {MAX_TTL.days} days")
        now = int(self._clock())
        expires = now + int(ttl.total_seconds())
        payload: dict[str, Any] = {
            "v": FORMAT_VERSION,
            "kind": kind.value,
            "sub": subject,
            "party": party,
            "community": community,
            "role": role.value if role else "",
            "iat": now,
            "exp": expires,
        }
        if street:  # only street workers' tokens carry it: every other token reads as it did before streets
            payload["street"] = street
        encoded = _b64encode(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode())
        token = f"{encoded}.{_b64encode(self._sign(self._keys[0], encoded))}"
        return token, self._claims(payload)

    def verify(self, token: str) -> Claims:
        """The claims of a token signed by one of our keys and not expired; raises Unauthenticated otherwise."""
        claims = self._verified.get(token)
        if claims is None:
            claims = self._signed_claims(token)
            if len(self._verified) >= VERIFIED_TOKENS_KEPT:
                self._verified.clear()
            self._verified[token] = claims
        now = self._clock()
        if now >= claims.expires_at.timestamp():
            raise Unauthenticated("the token expired; sign in again")
        if claims.issued_at.timestamp() > now + CLOCK_SKEW_SECONDS:
            raise Unauthenticated("the token was issued in the future; check the clocks")
        return claims

    def _signed_claims(self, token: str) -> Claims:
        """The claims of a token signed by one of our keys, whatever its times; raises Unauthenticated otherwise."""
        if len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1:
            raise Unauthenticated("malformed token")
        encoded, signature_text = token.split(".")
        try:
            signature = _b64decode(signature_text)
        except (ValueError, binascii.Error) as error:
            raise Unauthenticated("malformed token") from error
        # Every key is tried, whether or not an earlier one matched: the time taken says nothing about the keys.
        matched = [hmac.compare_digest(self._sign(key, encoded), signature) for key in self._keys]
        if not any(matched):
            raise Unauthenticated("the token's signature does not verify (tampered, or signed with a retired key)")
        try:
            return self._claims(json.loads(_b64decode(encoded)))
        except (ValueError, binascii.Error, KeyError, TypeError, InvalidArgument) as error:
            raise Unauthenticated("malformed token") from error

    @staticmethod
    def _sign(key: bytes, encoded: str) -> bytes:
        return hmac.new(key, encoded.encode("ascii"), hashlib.sha256).digest()

    @staticmethod
    def _claims(payload: dict[str, Any]) -> Claims:
        if payload["v"] != FORMAT_VERSION:
            raise ValueError(f"token format {payload['v']!r}")
        kind = TokenKind(payload["kind"])
        subject, party, community = str(payload["sub"]), str(payload["party"]), str(payload["community"])
        role = Role(payload["role"]) if payload["role"] else None
        street = str(payload.get("street", ""))
        issued, expires = payload["iat"], payload["exp"]
        if not isinstance(issued, int) or not isinstance(expires, int) or expires <= issued:
            raise ValueError("issued-at and expiry must be whole seconds, expiry later")
        check_claims(kind, subject, party=party, community=community, role=role, street=street)
        return Claims(
            kind=kind,
            subject=subject,
            issued_at=datetime.fromtimestamp(issued, UTC),
            expires_at=datetime.fromtimestamp(expires, UTC),
            party=party,
            community=community,
            role=role,
            street=street,
        )


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` value; raises Unauthenticated for anything else."""
    if not authorization or not authorization.strip():
        raise Unauthenticated("this needs `Authorization: Bearer <token>`")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("the authorization must be `Bearer <token>`")
    return token.strip()
