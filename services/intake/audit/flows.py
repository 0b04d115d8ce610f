"""Writing and reading the audit log.

Where an audited action writes the ticket database itself, its event is staged in the same transaction (`stage`):
both commit or neither does. Where the action is not a database write (a token signed, a login answered), the event
is written in a short transaction of its own (`record`) after the action succeeded and *before* its result is handed
out: if the log cannot be written, `record` raises Unavailable and the caller withholds the token, so no successful
action goes unrecorded and no failed one is recorded as a success. Failed logins are recorded best effort
(`login_failed` never raises: the resident is refused either way).

Personal data never enters the log: residents appear as keyed pseudonyms (`Pseudonyms`), details carry kinds and
counts, never a phone number, openid or token.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import cache

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from linli.errors import InvalidArgument, Unavailable
from services.intake.audit import repository
from services.intake.audit.models import (
    MAX_ACTOR_LENGTH,
    MAX_DETAIL_LENGTH,
    MAX_IP_LENGTH,
    MAX_SUBJECT_LENGTH,
    AuditAction,
    AuditEvent,
)
from services.intake.audit.repository import AuditQuery
from services.intake.database import Database
from services.intake.tickets.context import Clock, utc_now

logger = logging.getLogger(__name__)

PSEUDONYM_PREFIX = "rp:"
PSEUDONYM_HEX_DIGITS = 20
Detail = Mapping[str, str | int | float | bool | list[str] | None]
# What exports (services/intake/dashboards) and WeCom logins call; see AuditLog.export_recorder/wecom_login_recorder.
ExportRecorder = Callable[[str, str, int], None]
WeComLoginRecorder = Callable[[str, str, bool], None]


def as_utc(moment: datetime | None, field: str) -> datetime | None:
    """`moment` in UTC (a time without a zone is taken as UTC); InvalidArgument naming `field` when out of range."""
    if moment is None:
        return None
    try:
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError as error:
        raise InvalidArgument.for_field(field, "is out of range") from error


def parse_moment(text: str | None, field: str) -> datetime | None:
    """An ISO 8601 time typed on the command line, in UTC; None for none."""
    if not text:
        return None
    try:
        return as_utc(datetime.fromisoformat(text), field)
    except ValueError as error:
        raise InvalidArgument.for_field(field, "must be an ISO 8601 time, e.g. 2026-12-01T08:00+08:00") from error


class Pseudonyms:
    """Keyed pseudonyms of residents: the same resident always gets the same one (under one key), and nobody
    without the key can tell whose it is. `key` is read on first use (derived from the token signing key)."""

    def __init__(self, key: Callable[[], bytes]) -> None:
        self._key = cache(key)

    @classmethod
    def from_signing_key(cls, signing_key: Callable[[], bytes]) -> Pseudonyms:
        """Pseudonyms keyed by an HMAC of the token signing key under a label of their own."""
        return cls(lambda: hmac.new(signing_key(), b"linli audit pseudonyms", hashlib.sha256).digest())

    def of(self, resident_id: str) -> str:
        """`rp:<20 hex digits>` for `resident_id` (an openid, `phone:<digest>`, ...)."""
        digest = hmac.new(self._key(), resident_id.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
        return PSEUDONYM_PREFIX + digest[:PSEUDONYM_HEX_DIGITS]

    def resident(self, resident_id: str) -> str:
        """How a resident appears in the log: `resident:rp:<...>`."""
        return f"resident:{self.of(resident_id)}"


def new_event(
    at_clock: Clock, actor: str, action: AuditAction, subject: str = "", detail: Detail | None = None, ip: str = ""
) -> AuditEvent:
    """An event row; ValueError for an empty actor or a detail too long to be counts and kinds."""
    if not actor:
        raise ValueError("an audit event needs an actor")
    detail_text = json.dumps(dict(detail or {}), ensure_ascii=False, sort_keys=True)
    if len(detail_text) > MAX_DETAIL_LENGTH:
        raise ValueError(f"audit detail over {MAX_DETAIL_LENGTH} characters: it should hold kinds and counts")
    return AuditEvent(
        id=uuid.uuid4().hex,
        at=at_clock(),
        actor=actor[:MAX_ACTOR_LENGTH],
        action=AuditAction(action).value,
        subject=subject[:MAX_SUBJECT_LENGTH],
        detail=detail_text,
        ip=ip[:MAX_IP_LENGTH],
    )


class AuditLog:
    """Records audited actions and reads them back for admins."""

    def __init__(self, database: Database, pseudonyms: Pseudonyms, *, clock: Clock = utc_now) -> None:
        self._database = database
        self.pseudonyms = pseudonyms
        self._clock = clock

    def record(
        self, actor: str, action: AuditAction, subject: str = "", detail: Detail | None = None, ip: str = ""
    ) -> None:
        """Writes one event in a short transaction of its own (one INSERT). Call it after the action succeeded and
        before its result leaves the process.

        Raises:
            Unavailable: the log could not be written; the caller must not hand out the action's result.
        """
        event = new_event(self._clock, actor, action, subject, detail, ip)
        try:
            with self._database.unit_of_work() as session:
                repository.add(event, session=session)
        except SQLAlchemyError as error:
            logger.error("the audit log could not be written", extra={"action": event.action, "error": str(error)})
            raise Unavailable("审计日志暂时无法写入,请稍后再试") from error

    def stage(
        self,
        session: Session,
        actor: str,
        action: AuditAction,
        subject: str = "",
        detail: Detail | None = None,
        ip: str = "",
    ) -> None:
        """Adds one event to the caller's transaction: it commits with the action, or rolls back with it."""
        repository.add(new_event(self._clock, actor, action, subject, detail, ip), session=session)

    def resident_login(self, action: AuditAction, resident_id: str, *, method: str, ip: str) -> None:
        """A resident logged in (`record`: raises Unavailable when it cannot be written)."""
        actor = self.pseudonyms.resident(resident_id)
        self.record(actor, action, subject=actor, detail={"method": method}, ip=ip)

    def login_failed(self, method: str, *, reason: str, ip: str) -> None:
        """A login was refused; recorded by method, reason and address only (never the phone or the code). Never
        raises: the refusal stands whether or not it could be recorded."""
        try:
            self.record("anonymous", AuditAction.LOGIN_FAILED, detail={"method": method, "reason": reason}, ip=ip)
        except Unavailable:
            logger.warning("a failed login went unrecorded", extra={"method": method})

    def personal_data_read(self, actor: str, *, resident_id: str, fields: list[str], ticket_id: str = "") -> None:
        """`actor` read `fields` (e.g. ["phone"]) of a resident (named by pseudonym), on `ticket_id` if any."""
        detail: dict[str, str | list[str]] = {"fields": sorted(fields)}
        if ticket_id:
            detail["ticket_id"] = ticket_id
        self.record(actor, AuditAction.PERSONAL_DATA_READ, subject=self.pseudonyms.resident(resident_id), detail=detail)

    def personal_data_refused(
        self, actor: str, *, resident_id: str, fields: list[str], ticket_id: str, reason: str
    ) -> None:
        """`actor` was refused `fields` of a resident on `ticket_id` (e.g. reason `rate_limited`): nothing was
        disclosed. Best effort, never raises: the refusal stands whether or not it could be recorded."""
        detail: Detail = {"fields": sorted(fields), "ticket_id": ticket_id, "reason": reason}
        try:
            self.record(
                actor, AuditAction.PERSONAL_DATA_REFUSED, subject=self.pseudonyms.resident(resident_id), detail=detail
            )
        except Unavailable:
            logger.warning("a refused read of personal data went unrecorded", extra={"reason": reason})

    def export_recorder(self) -> ExportRecorder:
        """The `on_export(actor, what, row_count)` callable exports take: records an `export` with its kind and
        row count; raises Unavailable (the export must then not be served) when the log cannot be written."""

        def on_export(actor: str, what: str, row_count: int) -> None:
            self.record(actor, AuditAction.EXPORT, subject=what, detail={"what": what, "rows": row_count})

        return on_export

    def wecom_login_recorder(self) -> WeComLoginRecorder:
        """The `on_wecom_login(worker_id, ip, succeeded)` callable the WeCom login takes: a success is recorded
        (`record`, raises Unavailable: withhold the token), a failure best effort."""

        def on_wecom_login(worker_id: str, ip: str, succeeded: bool) -> None:
            if not succeeded:
                self.login_failed("wecom", reason="refused", ip=ip)
                return
            actor = f"worker:{worker_id}"
            self.record(actor, AuditAction.LOGIN_WECOM, subject=actor, detail={"method": "wecom"}, ip=ip)

        return on_wecom_login

    def page(self, query: AuditQuery) -> tuple[list[AuditEvent], str]:
        """A page of events, newest first, and the next page's token ('' after the last)."""
        with self._database.unit_of_work() as session:
            return repository.page(query, session=session)
