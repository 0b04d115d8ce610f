"""The imported history as resolved cases in retrieval, so similar new complaints find them as precedents."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

from linli.proto_time import to_timestamp
from linli.v1 import cases_pb2
from services.routing.learning.data import join_title

# The message board's times are local (China Standard Time) without a zone.
BOARD_ZONE = timezone(timedelta(hours=8))
TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d")
# Retrieval's limits on a case (services/retrieval/cases.py): longer texts are cut, not refused.
MAX_TEXT_CHARS = 2000
MAX_ID_CHARS = 128
ID_PREFIX = "history:"
UPSERT_BATCH = 64


class CaseSink(Protocol):
    """Where cases go: RetrievalClient.upsert_cases, or a fake in tests."""

    def upsert_cases(self, cases: Sequence[cases_pb2.Case]) -> None:
        """Adds or replaces the cases."""
        ...


def parse_board_time(value: str) -> datetime | None:
    """A board time ("2019-04-24 16:03:40", "2019/4/24 16:03") in China Standard Time; None when unreadable."""
    text = value.strip()
    for pattern in TIME_FORMATS:
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=BOARD_ZONE)
        except ValueError:
            continue
    return None


def case_from_line(line: dict[str, Any], community: str) -> cases_pb2.Case | None:
    """The resolved case of one HISTORY.jsonl line, or None for a line without a party label.

    Retrieval requires a party on every case and the precedent vote counts each case's party, so an unlabelled
    message cannot be stored without voting for a party it was not sure of: it is left out.
    """
    label = str(line.get("label") or "")
    if not label:
        return None
    case = cases_pb2.Case(
        id=(ID_PREFIX + str(line.get("id") or ""))[:MAX_ID_CHARS],
        complaint=join_title(line.get("title"), str(line["text"]))[:MAX_TEXT_CHARS],
        resolution=str(line.get("reply") or "")[:MAX_TEXT_CHARS],
        party=label,
        community=community,
        status=cases_pb2.CASE_STATUS_RESOLVED,
    )
    created = parse_board_time(str(line.get("time") or ""))
    resolved = parse_board_time(str(line.get("reply_time") or ""))
    if created is not None:
        case.created_at.CopyFrom(to_timestamp(created))
    if resolved is not None:
        case.resolved_at.CopyFrom(to_timestamp(resolved))
    return case


def upsert_history(
    lines: Sequence[dict[str, Any]],
    sink: CaseSink,
    *,
    community: str,
    progress: Callable[[str], None] | None = None,
) -> tuple[int, int]:
    """Upserts the labelled lines as resolved cases in batches; returns (upserted, left out as unlabelled)."""
    say = progress or (lambda _line: None)
    cases = [case for case in (case_from_line(line, community) for line in lines) if case is not None]
    for start in range(0, len(cases), UPSERT_BATCH):
        sink.upsert_cases(cases[start : start + UPSERT_BATCH])
        say(f"upserted {min(start + UPSERT_BATCH, len(cases))}/{len(cases)} cases")
    return len(cases), len(lines) - len(cases)
