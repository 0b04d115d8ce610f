"""Auth tables: the revoked token subjects (services.intake.auth.revocations) and SMS login codes (sms_login)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from linli.sql_types import UtcDateTime
from services.intake.database import Base


class RevokedSubject(Base):
    """Someone whose tokens are refused: those of `kind`/`subject` issued at or before `revoked_before`.

    Read by services.intake.auth.revocations; revoking the same subject again moves `revoked_before` forward,
    unrevoking deletes the row, and a row older than the longest token lifetime is pruned.
    """

    __tablename__ = "revoked_subjects"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    subject: Mapped[str] = mapped_column(String(128), primary_key=True)
    # Whole seconds, like a token's issued-at: a token issued in the second of the revocation is refused too.
    revoked_before: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime] = mapped_column(UtcDateTime)
    reason: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(128))


class SmsCode(Base):
    """The SMS login state of one phone, keyed by its keyed digest (services.intake.auth.phones): the pending code's
    HMAC, when it expires, what was sent today, the wrong attempts and the lock they led to. No raw number or code."""

    __tablename__ = "sms_codes"

    phone_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), default="")
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # Indexed: rows idle for days are pruned (services.intake.auth.sms_login).
    last_sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True, index=True)
    # The day (China Standard Time, as residents count days) of `sent_today`.
    sent_day: Mapped[str] = mapped_column(String(10), default="")
    sent_today: Mapped[int] = mapped_column(Integer, default=0)
    wrong_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
