"""Issuing intake's tokens: residents' after the login exchange, workers' by `linli token issue`, services' own.

Verification is shared by every service and lives in linli/tokens.py; only intake (and its CLI) issues tokens.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from linli.tokens import Role, TokenCodec, TokenKind

DEFAULT_WORKER_TTL = timedelta(days=30)


def issue_token(
    kind: TokenKind | str,
    subject: str,
    *,
    party: str = "",
    community: str = "",
    role: Role | str | None = None,
    ttl: timedelta = DEFAULT_WORKER_TTL,
    codec: TokenCodec,
    street: str = "",
) -> tuple[str, datetime]:
    """A signed token for `subject` and when it expires.

    Args:
        kind: resident, worker or service.
        subject: the resident's openid, the worker's id or the service's name.
        party: a worker's party (required for workers, refused for the other kinds).
        community: the community a worker serves; '' serves every one (or the street's).
        role: a worker's role (worker, dispatcher, admin); defaults to worker for workers.
        ttl: how long the token is valid (at most 366 days).
        codec: the keys to sign with (`LINLI_AUTH_SECRETS`, as the caller's entry read them).
        street: a street office worker's street code (never with a community): they serve its every community.

    Raises:
        InvalidArgument: the fields do not make a token of this kind.
    """
    kind = TokenKind(kind)
    if kind is TokenKind.WORKER and role is None:
        role = Role.WORKER
    token, claims = codec.issue(
        kind, subject, ttl=ttl, party=party, community=community, role=Role(role) if role else None, street=street
    )
    return token, claims.expires_at
