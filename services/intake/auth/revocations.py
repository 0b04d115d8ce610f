"""Revoking one person's tokens without rotating the key: a short deny-list of (kind, subject, revoked-before).

A token is refused when the list holds its kind and subject with a `revoked_before` at or after the token's
issued-at; tokens issued later (the worker's new one) are accepted. The list lives in the ticket database
(`revoked_subjects`), written by `linli token revoke`, lifted by `linli token unrevoke`, pruned by `linli token
revocations --prune`, and read by intake on every authenticated request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from linli.errors import InvalidArgument, NotFound
from linli.tokens import CLOCK_SKEW_SECONDS, MAX_SUBJECT_LENGTH, MAX_TTL, Claims, TokenKind
from services.intake.auth.models import RevokedSubject
from services.intake.database import Database

logger = logging.getLogger(__name__)

DEFAULT_REFRESH_SECONDS = 15.0
MAX_ACTOR_LENGTH = 128
# Two operators revoking the same subject at once: the loser of the insert race updates the winner's row instead.
REVOKE_ATTEMPTS = 2
# How long a revocation can matter: every token it refuses was issued at or before `revoked_before` and lives at most
# MAX_TTL, whatever its kind (`linli token issue` signs residents' and services' tokens for up to 366 days too, so the
# shorter LINLI_AUTH_*_TTL_* settings bound only the tokens intake signs by itself). The skew covers a verifying
# host whose clock is behind the pruning one.
REVOCATION_LIFETIME = MAX_TTL + timedelta(seconds=CLOCK_SKEW_SECONDS)


@dataclass(frozen=True)
class Revocation:
    """One revoked subject: its tokens issued at or before `revoked_before` are refused."""

    kind: TokenKind
    subject: str
    revoked_before: datetime
    revoked_at: datetime
    reason: str
    actor: str


@dataclass(frozen=True)
class _Snapshot:
    """The revoked subjects as last read, and when (on the refresh clock); replaced whole, never changed."""

    revoked_before: Mapping[tuple[str, str], datetime]
    read_at: float | None


class Revocations:
    """The revoked subjects of the ticket database, checked against every authenticated request.

    `is_revoked` answers from an in-memory snapshot of the table (a handful of rows) that is re-read at most every
    `refresh_seconds` (`LINLI_AUTH_REVOCATION_REFRESH_SECONDS`; 0 reads the database on every call), so a revocation
    written by another process reaches this one within that interval. One thread re-reads while the others wait for
    it, so a burst of requests costs one query.

    If a re-read fails, the last snapshot is kept, a warning is logged, and the next call after another interval
    tries again. Not refusing every token meanwhile is deliberate: a ticket database that is down makes intake
    unusable anyway, so refusing would add nothing but 401s that send people to sign in again for no reason. A
    revocation written while this process cannot read it takes effect at its first read that succeeds; before the
    first successful read nobody is revoked.

    Args:
        database: the ticket database holding `revoked_subjects`.
        refresh_seconds: how old the snapshot may get before the next call re-reads it.
        clock: seconds on a monotonic clock, for the refresh interval (tests pass a fake one).
    """

    def __init__(
        self,
        database: Database,
        *,
        refresh_seconds: float = DEFAULT_REFRESH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if refresh_seconds < 0:
            raise ValueError("refresh_seconds must be 0 or more")
        self._database = database
        self._refresh_seconds = refresh_seconds
        self._clock = clock
        self._snapshot = _Snapshot({}, None)
        self._refresh_lock = threading.Lock()

    def revoke(self, kind: TokenKind | str, subject: str, *, reason: str = "", actor: str, now: datetime) -> Revocation:
        """Refuses from now on the tokens of `kind`/`subject` issued at or before `now` (whole seconds).

        Revoking a subject again moves its instant forward (never back) and records the new reason and actor.
        This process sees the revocation on its next check; other processes within their refresh interval.

        Raises:
            InvalidArgument: an unknown kind, or a subject or actor that no token could carry.
            ValueError: `now` has no time zone.
        """
        revoked_kind = _token_kind(kind)
        if not 0 < len(subject) <= MAX_SUBJECT_LENGTH or not subject.isprintable():
            raise InvalidArgument.for_field("subject", f"must be 1-{MAX_SUBJECT_LENGTH} printable characters")
        if not 0 < len(actor) <= MAX_ACTOR_LENGTH:
            raise InvalidArgument.for_field("actor", f"must be 1-{MAX_ACTOR_LENGTH} characters")
        if now.tzinfo is None:
            raise ValueError("naive datetime: times in linli are always zone-aware")
        revocation = self._store(revoked_kind, subject, now.astimezone(UTC), reason=reason, actor=actor)
        self.forget_snapshot()
        return revocation

    def unrevoke(self, kind: TokenKind | str, subject: str) -> Revocation:
        """Lifts the revocation of `kind`/`subject`: its tokens that have not expired are accepted again.

        This process sees it on its next check; other processes within their refresh interval.

        Raises:
            InvalidArgument: an unknown kind.
            NotFound: `kind`/`subject` is not revoked.
        """
        revoked_kind = _token_kind(kind)
        with self._database.unit_of_work() as session:
            row = session.get(RevokedSubject, (revoked_kind.value, subject))
            if row is None:
                raise NotFound(f"{revoked_kind.value} {subject!r} is not revoked")
            lifted = _revocation_of(row)
            session.delete(row)
        self.forget_snapshot()
        return lifted

    def prune(self, *, now: datetime) -> int:
        """Deletes the revocations that can no longer refuse anything; returns how many.

        A revocation whose `revoked_before` is more than REVOCATION_LIFETIME before `now` refuses only tokens that
        have all expired, so deleting it changes no answer of `is_revoked` for a token that still verifies.

        Raises:
            ValueError: `now` has no time zone.
        """
        if now.tzinfo is None:
            raise ValueError("naive datetime: times in linli are always zone-aware")
        with self._database.unit_of_work() as session:
            statement = delete(RevokedSubject).where(RevokedSubject.revoked_before < now - REVOCATION_LIFETIME)
            # A DELETE's result is a CursorResult (with a row count); SQLAlchemy's stubs type it as a plain Result.
            result = cast("CursorResult[Any]", session.execute(statement))
            return result.rowcount

    def current(self) -> list[Revocation]:
        """Every revocation, the most recent first (read from the database, not the snapshot)."""
        with self._database.unit_of_work() as session:
            rows = session.scalars(
                select(RevokedSubject).order_by(
                    RevokedSubject.revoked_at.desc(), RevokedSubject.kind, RevokedSubject.subject
                )
            )
            return [_revocation_of(row) for row in rows]

    def is_revoked(self, claims: Claims) -> bool:
        """True when the token's subject was revoked at or after the token was issued."""
        revoked_before = self._current().get((claims.kind.value, claims.subject))
        return revoked_before is not None and claims.issued_at <= revoked_before

    def is_revoked_in_memory(self, claims: Claims) -> bool | None:
        """`is_revoked` from the snapshot alone; None when the snapshot is due for a re-read (a database read)."""
        snapshot = self._snapshot  # read once: another thread may replace it meanwhile
        if self._is_due(snapshot):
            return None
        revoked_before = snapshot.revoked_before.get((claims.kind.value, claims.subject))
        return revoked_before is not None and claims.issued_at <= revoked_before

    def forget_snapshot(self) -> None:
        """Re-reads the list on the next check: after a revocation written by `stage_revocation`."""
        # Our own change counts at once. Under the lock: a refresh that read before the commit must not put its
        # older snapshot back after this.
        with self._refresh_lock:
            self._snapshot = _Snapshot(self._snapshot.revoked_before, None)

    def _current(self) -> Mapping[tuple[str, str], datetime]:
        snapshot = self._snapshot  # read once: another thread may replace it meanwhile
        if not self._is_due(snapshot):
            return snapshot.revoked_before
        with self._refresh_lock:
            snapshot = self._snapshot
            if self._is_due(snapshot):  # else another thread refreshed it while this one waited
                snapshot = self._snapshot = self._read(snapshot)
        return snapshot.revoked_before

    def _is_due(self, snapshot: _Snapshot) -> bool:
        return snapshot.read_at is None or self._clock() - snapshot.read_at >= self._refresh_seconds

    def _read(self, previous: _Snapshot) -> _Snapshot:
        read_at = self._clock()
        try:
            with self._database.unit_of_work() as session:
                rows = session.execute(
                    select(RevokedSubject.kind, RevokedSubject.subject, RevokedSubject.revoked_before)
                ).all()
        except SQLAlchemyError as error:
            logger.warning(
                "revoked token subjects not re-read; keeping the last %d",
                len(previous.revoked_before),
                extra={"error": str(error), "retry_seconds": self._refresh_seconds},
            )
            # Retried after the interval, not on the very next request: a dead database is not hammered.
            return _Snapshot(previous.revoked_before, read_at)
        return _Snapshot({(kind, subject): before for kind, subject, before in rows}, read_at)

    def _store(self, kind: TokenKind, subject: str, now: datetime, *, reason: str, actor: str) -> Revocation:
        for _ in range(REVOKE_ATTEMPTS - 1):
            try:
                return self._upsert(kind, subject, now, reason=reason, actor=actor)
            except (IntegrityError, StaleDataError):
                # Another revocation inserted the row first (the next attempt updates it), or an unrevoke or prune
                # deleted the row this one was updating (the next attempt inserts it again).
                continue
        return self._upsert(kind, subject, now, reason=reason, actor=actor)

    def _upsert(self, kind: TokenKind, subject: str, now: datetime, *, reason: str, actor: str) -> Revocation:
        with self._database.unit_of_work() as session:
            return stage_revocation(kind, subject, now, reason=reason, actor=actor, session=session)


def stage_revocation(
    kind: TokenKind, subject: str, now: datetime, *, reason: str, actor: str, session: Session
) -> Revocation:
    """Writes (or moves forward) the revocation of `kind`/`subject` in `session`, without committing: for a unit of
    work that must revoke together with other changes (erasing a resident). Arguments are checked by the caller;
    once committed, call `Revocations.forget_snapshot` so this process sees it at once."""
    # Issued-at has whole-second resolution: truncating keeps "issued at or before" true for this second's tokens.
    revoked_before = now.replace(microsecond=0)
    row = session.get(RevokedSubject, (kind.value, subject))
    if row is None:
        row = RevokedSubject(kind=kind.value, subject=subject, revoked_before=revoked_before)
        session.add(row)
    else:
        row.revoked_before = max(row.revoked_before, revoked_before)
    row.revoked_at, row.reason, row.actor = now, reason, actor
    session.flush()
    return _revocation_of(row)


def _token_kind(kind: TokenKind | str) -> TokenKind:
    try:
        return TokenKind(kind)
    except ValueError as error:
        kinds = ", ".join(member.value for member in TokenKind)
        raise InvalidArgument.for_field("kind", f"must be one of {kinds}") from error


def _revocation_of(row: RevokedSubject) -> Revocation:
    return Revocation(TokenKind(row.kind), row.subject, row.revoked_before, row.revoked_at, row.reason, row.actor)
