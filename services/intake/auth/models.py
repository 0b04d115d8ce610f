"""The revoked token subjects as stored (read and written by services.intake.auth.revocations)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
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
