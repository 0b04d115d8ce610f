"""Process-wide logging: one JSON object a line (or plain text for people), ids attached, personal data masked.

Ids come from two places: extras passed to one call (`extra={"ticket_id": ...}`) and the log context of the
request or task being handled (`log_context(request_id=...)`), which the gRPC interceptor, the HTTP middleware and
the Celery task hooks set. Messages, exception texts and extras go through `linli.pii.scrub` before they are written.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from linli.pii import scrub
from linli.settings import LogSettings

REQUEST_ID_HEADER = "x-request-id"
# A caller's id is echoed into logs and headers: accept only a short token, never free text.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
# Ids the system made up: never personal data, and a hex id could look like a phone number to the scrubber.
UNMASKED_FIELDS = frozenset({"request_id", "ticket_id", "case_id", "task_id", "primary_id"})

_EMPTY: Mapping[str, str] = MappingProxyType({})
_log_context: ContextVar[Mapping[str, str]] = ContextVar("linli_log_context", default=_EMPTY)


def new_request_id() -> str:
    """A fresh request id."""
    return uuid.uuid4().hex


def request_id_or_new(candidate: str | None) -> str:
    """The caller's request id when it is a plausible id, else a fresh one."""
    if candidate and _REQUEST_ID.match(candidate):
        return candidate
    return new_request_id()


def bind_log_context(**ids: str) -> Token[Mapping[str, str]]:
    """Adds ids to every log line of the current context until `unbind_log_context(token)`."""
    return _log_context.set(MappingProxyType({**_log_context.get(), **ids}))


def unbind_log_context(token: Token[Mapping[str, str]]) -> None:
    """Restores the log context as it was before `bind_log_context` returned `token`."""
    _log_context.reset(token)


@contextmanager
def log_context(**ids: str) -> Iterator[None]:
    """Adds ids (request_id, ticket_id) to every log line written inside the block, in this thread or task."""
    token = bind_log_context(**ids)
    try:
        yield
    finally:
        unbind_log_context(token)


def current_log_context() -> Mapping[str, str]:
    """The ids bound to the current context."""
    return _log_context.get()


def _masked(key: str, value: Any) -> Any:
    if key in UNMASKED_FIELDS:
        return value
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, list | tuple):
        return [scrub(item) if isinstance(item, str) else item for item in value]
    return value


# Attributes every LogRecord has; anything else was passed through `extra=` and belongs in the output.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    """The context's ids, then the record's own extras (which win), each with personal data masked."""
    fields: dict[str, Any] = dict(_log_context.get())
    fields.update((k, v) for k, v in record.__dict__.items() if k not in _STANDARD)
    return {k: _masked(k, v) for k, v in fields.items()}


class TextFormatter(logging.Formatter):
    """A line for people: time, role, level, logger, message, then any extras as key=value."""

    def __init__(self, role: str) -> None:
        super().__init__(f"%(asctime)s {role} %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        # A masked copy: another handler of the same record must not see it changed.
        masked = logging.makeLogRecord(record.__dict__)
        masked.msg, masked.args = scrub(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            masked.exc_text = self.formatException(record.exc_info)
        if masked.exc_text:
            masked.exc_text = scrub(masked.exc_text)
        line = super().format(masked)
        extras = " ".join(f"{k}={v}" for k, v in _extras(record).items())
        return f"{line} {extras}" if extras else line


class JsonFormatter(logging.Formatter):
    """Formats a record as a JSON object with time, level, logger, message and extras such as ticket_id."""

    def __init__(self, role: str) -> None:
        super().__init__()
        self.role = role

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "role": self.role,
            "logger": record.name,
            "msg": scrub(record.getMessage()),
        }
        entry.update(_extras(record))
        if record.exc_info:
            entry["exc"] = scrub(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(role: str, settings: LogSettings) -> None:
    """Sends every logger to stderr in the configured format; call once, from a process entry point."""
    handler = logging.StreamHandler(sys.stderr)
    if settings.format == "json":
        handler.setFormatter(JsonFormatter(role))
    else:
        handler.setFormatter(TextFormatter(role))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.level)
