"""Log lines carry the ids passed as extras, in both formats."""

from __future__ import annotations

import json
import logging

from linli.logs import JsonFormatter, TextFormatter


def record(message: str, **extra: object) -> logging.LogRecord:
    entry = logging.LogRecord("linli.test", logging.INFO, __file__, 1, message, None, None)
    entry.__dict__.update(extra)
    return entry


def test_json_lines_hold_message_role_and_extras() -> None:
    line = json.loads(JsonFormatter("intake").format(record("triaged", ticket_id="t-1", outcome="routed")))
    assert line["msg"] == "triaged"
    assert line["role"] == "intake"
    assert (line["ticket_id"], line["outcome"]) == ("t-1", "routed")
    assert line["level"] == "INFO"


def test_text_lines_append_extras() -> None:
    line = TextFormatter("worker").format(record("triaged", ticket_id="t-1"))
    assert line.endswith("worker INFO linli.test: triaged ticket_id=t-1")
