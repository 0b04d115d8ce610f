"""The audit log's table: one row per audited action, never the personal data itself."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from linli.sql_types import UtcDateTime
from services.intake.database import Base

MAX_ACTOR_LENGTH = 160
MAX_SUBJECT_LENGTH = 160
MAX_IP_LENGTH = 64
MAX_DETAIL_LENGTH = 4000


class AuditAction(StrEnum):
    """What was done. The values are stored: never rename one."""

    TOKEN_ISSUED = "token_issued"  # noqa: S105
    TOKEN_REVOKED = "token_revoked"  # noqa: S105
    TOKEN_UNREVOKED = "token_unrevoked"  # noqa: S105
    LOGIN_SMS = "login_sms"
    LOGIN_WECHAT = "login_wechat"
    LOGIN_WECOM = "login_wecom"
    LOGIN_FAILED = "login_failed"
    EXPORT = "export"
    PERSONAL_DATA_READ = "personal_data_read"
    PERSONAL_DATA_REFUSED = "personal_data_refused"
    RESIDENT_ERASED = "resident_erased"
    AUDIT_LOG_READ = "audit_log_read"


class AuditEvent(Base):
    """One audited action: when, who (`worker:w1`, `operator:alice`, `resident:rp:<pseudonym>`), what, on what,
    with which details (JSON; counts and kinds, never a phone number, openid or token) and from which address."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_action_at", "action", "at"),
        Index("ix_audit_events_actor_at", "actor", "at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(MAX_ACTOR_LENGTH))
    action: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(MAX_SUBJECT_LENGTH), default="")
    detail: Mapped[str] = mapped_column(Text, default="{}")
    ip: Mapped[str] = mapped_column(String(MAX_IP_LENGTH), default="")
