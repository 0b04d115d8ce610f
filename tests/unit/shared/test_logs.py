"""Log lines carry the ids passed as extras or bound to the request or task, with personal data masked."""

from __future__ import annotations

import json
import logging
import re
import sys

from linli.logs import JsonFormatter, TextFormatter, log_context, request_id_or_new


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    entry = logging.LogRecord("linli.test", logging.INFO, __file__, 1, message, args or None, None)
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


def test_ids_of_the_log_context_are_on_every_line_until_it_ends() -> None:
    with log_context(request_id="req-1"):
        with log_context(ticket_id="t-9"):
            inner = json.loads(JsonFormatter("intake").format(record("inside")))
        outer = json.loads(JsonFormatter("intake").format(record("outside", ticket_id="t-explicit")))
    after = json.loads(JsonFormatter("intake").format(record("after")))
    assert (inner["request_id"], inner["ticket_id"]) == ("req-1", "t-9")
    assert (outer["request_id"], outer["ticket_id"]) == ("req-1", "t-explicit")  # an explicit extra wins
    assert "request_id" not in after
    assert "ticket_id" not in after


def test_personal_data_is_masked_in_messages_extras_and_tracebacks() -> None:
    try:
        raise ValueError("bad text: 电话13812345678")
    except ValueError:
        failed = record("resident wrote %s", "我住3号楼2单元501室,电话13812345678", note="邮箱 li@example.com")
        failed.exc_info = sys.exc_info()
    # An id may hold 11 digits that look like a mobile number: ids the system made are left alone.
    failed.__dict__["ticket_id"] = "t-13812345678"
    line = json.loads(JsonFormatter("worker").format(failed))
    assert line["msg"] == "resident wrote 我住[房号],电话[手机号]"
    assert line["note"] == "邮箱 [邮箱]"
    assert "13812345678" not in line["exc"]
    assert "[手机号]" in line["exc"]
    assert line["ticket_id"] == "t-13812345678"
    text = TextFormatter("worker").format(failed)
    assert "13812345678" not in text.replace(line["ticket_id"], "")
    assert "resident wrote 我住[房号],电话[手机号]" in text


def test_request_ids_from_callers_are_kept_only_when_plausible() -> None:
    assert request_id_or_new("trace-7.a:b_c") == "trace-7.a:b_c"
    for hostile in ("", "has space", "x" * 65, "换行\n注入", None):
        assert re.fullmatch(r"[0-9a-f]{32}", request_id_or_new(hostile))
