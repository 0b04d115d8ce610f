"""HMAC-SHA256 signatures of webhook deliveries: how linli signs, and how a receiver checks.

The signature is `sha256=` + hex(HMAC-SHA256(secret, f"{timestamp}.{body}")), where `timestamp` is the
`X-Linli-Timestamp` header (Unix seconds) and `body` the raw request body. Signing the timestamp with the body lets a
receiver reject replays of an old delivery without keeping a list of the deliveries it has seen.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from pydantic import SecretStr

from linli.errors import PermissionDenied

SCHEME = "sha256"
DEFAULT_TOLERANCE_SECONDS = 300.0


class InvalidSignature(PermissionDenied):
    """A delivery whose signature, or timestamp, does not hold up; the message says which."""

    slug = "invalid_signature"


def _key(secret: str | bytes | SecretStr) -> bytes:
    if isinstance(secret, SecretStr):
        secret = secret.get_secret_value()
    return secret.encode() if isinstance(secret, str) else secret


def _raw(body: str | bytes) -> bytes:
    return body.encode() if isinstance(body, str) else body


def sign(secret: str | bytes | SecretStr, timestamp: str, body: str | bytes) -> str:
    """The `X-Linli-Signature` value for `body` sent at `timestamp` (Unix seconds, as a string)."""
    digest = hmac.new(_key(secret), timestamp.encode() + b"." + _raw(body), hashlib.sha256).hexdigest()
    return f"{SCHEME}={digest}"


def verify_signature(
    secret: str | bytes | SecretStr,
    timestamp: str,
    body: str | bytes,
    header: str,
    *,
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> None:
    """Checks a delivery as a receiver gets it; returns quietly when it is genuine and fresh.

    Args:
        secret: The shared secret (`LINLI_NOTIFY_HMAC_SECRET` on linli's side).
        timestamp: The `X-Linli-Timestamp` header.
        body: The raw request body, exactly as received (not re-serialised JSON).
        header: The `X-Linli-Signature` header.
        tolerance_seconds: How far the timestamp may be from `now`, either way, before the delivery counts as a replay.
        now: The current Unix time; the clock by default.

    Raises:
        InvalidSignature: the header is malformed, the signature does not match, or the timestamp is stale.
    """
    if not timestamp.isascii() or not timestamp.isdigit():
        raise InvalidSignature(f"timestamp must be Unix seconds, got {timestamp[:32]!r}")
    age = (time.time() if now is None else now) - int(timestamp)
    if abs(age) > tolerance_seconds:
        raise InvalidSignature(f"timestamp is {age:.0f} s away from now (tolerance {tolerance_seconds:.0f} s)")
    scheme, _, given = header.partition("=")
    if scheme != SCHEME or not given:
        raise InvalidSignature(f"signature must look like '{SCHEME}=<hex>'")
    expected = sign(secret, timestamp, body)
    # Constant time: a byte-by-byte comparison would tell an attacker how much of a forged signature is right.
    if not hmac.compare_digest(expected.encode(), header.encode()):
        raise InvalidSignature("signature does not match the body and timestamp")
