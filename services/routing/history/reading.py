"""Rows of a complaint history as a 12345 / message-board export holds them: JSONL, CSV or Excel (.xlsx)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from linli.errors import InvalidArgument

# Every header a 12345 export or the shared data uses, mapped to the field it fills.
HEADER_FIELDS: Mapping[str, str] = {
    "留言主题": "title",
    "主题": "title",
    "标题": "title",
    "title": "title",
    "留言详情": "text",
    "留言内容": "text",
    "诉求内容": "text",
    "内容": "text",
    "text": "text",
    "complaint": "text",
    "答复意见": "reply",
    "回复意见": "reply",
    "答复内容": "reply",
    "办理结果": "reply",
    "reply": "reply",
    "留言时间": "time",
    "time": "time",
    "答复时间": "reply_time",
    "回复时间": "reply_time",
    "reply_time": "reply_time",
    "留言编号": "id",
    "编号": "id",
    "id": "id",
}
REQUIRED_FIELDS = ("text", "reply")
SUFFIXES = (".jsonl", ".csv", ".xlsx")
# 12345 exports from Windows machines are often GB18030 (GBK) rather than UTF-8.
CSV_ENCODINGS = ("utf-8-sig", "gb18030")


@dataclass(frozen=True)
class HistoryRow:
    """One message of the history with the official reply; `source` is `file:line` for messages about it."""

    source: str
    id: str
    title: str
    text: str
    reply: str
    time: str
    reply_time: str


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value).strip()


def _field_of(header: str) -> str | None:
    return HEADER_FIELDS.get(header.strip().lstrip("\ufeff").lower())


def _row(path: Path, number: int, record: Mapping[str, Any]) -> HistoryRow:
    fields: dict[str, str] = {}
    for header, value in record.items():
        field = _field_of(str(header))
        if field is not None and field not in fields:
            fields[field] = _cell(value)
    missing = [name for name in REQUIRED_FIELDS if name not in fields]
    if missing:
        headers = ", ".join(str(header) for header in record) or "none"
        raise InvalidArgument.for_field(
            f"{path}:{number}",
            f"no column for {', '.join(missing)} (headers found: {headers}; "
            "expected e.g. 留言详情/text, 答复意见/reply)",
        )
    source = f"{path}:{number}"
    return HistoryRow(
        source=source,
        id=fields.get("id") or source,
        title=fields.get("title", ""),
        text=fields["text"],
        reply=fields["reply"],
        time=fields.get("time", ""),
        reply_time=fields.get("reply_time", ""),
    )


def _jsonl(path: Path) -> Iterator[HistoryRow]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as error:
                raise InvalidArgument.for_field(f"{path}:{number}", f"not valid JSON ({error.msg})") from error
            if not isinstance(value, dict):
                raise InvalidArgument.for_field(f"{path}:{number}", "expected a JSON object")
            yield _row(path, number, value)


def _csv_text(path: Path) -> str:
    raw = path.read_bytes()
    for encoding in CSV_ENCODINGS:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InvalidArgument.for_field(str(path), f"not text in any of {', '.join(CSV_ENCODINGS)}")


def _csv(path: Path) -> Iterator[HistoryRow]:
    # A cell may hold line breaks (a reply in paragraphs): the csv module must see the text whole, not line by line.
    reader = csv.DictReader(io.StringIO(_csv_text(path), newline=""))
    for number, record in enumerate(reader, start=2):  # record 1 is the header
        if any(_cell(value) for value in record.values()):
            yield _row(path, number, {key: value for key, value in record.items() if key is not None})


def _xlsx(path: Path) -> Iterator[HistoryRow]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises zipfile, KeyError or its own errors for a file that is not xlsx
        raise InvalidArgument.for_field(str(path), f"not a readable .xlsx workbook ({error})") from error
    try:
        rows = workbook.worksheets[0].iter_rows(values_only=True)
        headers = [_cell(value) for value in next(rows, ())]
        for number, values in enumerate(rows, start=2):
            if any(_cell(value) for value in values):
                yield _row(path, number, dict(zip(headers, values, strict=False)))
    finally:
        workbook.close()


def read_history(path: Path) -> Iterator[HistoryRow]:
    """The rows of one export, in order; the format is told by the suffix.

    Raises:
        InvalidArgument: an unknown suffix, an unreadable file, or a row without a message or reply column.
    """
    readers = {".jsonl": _jsonl, ".json": _jsonl, ".csv": _csv, ".xlsx": _xlsx}
    reader = readers.get(path.suffix.lower())
    if reader is None:
        raise InvalidArgument.for_field(str(path), f"unknown format: expected one of {', '.join(SUFFIXES)}")
    if not path.is_file():
        raise InvalidArgument.for_field(str(path), "no such file")
    try:
        yield from reader(path)
    except UnicodeDecodeError as error:
        raise InvalidArgument.for_field(str(path), f"not UTF-8 text ({error.reason})") from error
