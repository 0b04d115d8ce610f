"""`linli history import`: read exports, scrub personal data, drop boilerplate replies, infer who acted, write JSONL."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from linli.errors import InvalidArgument
from linli.pii import scrub
from services.routing.history.labelling import LabellingReport, infer_labels
from services.routing.history.reading import HistoryRow, read_history
from services.routing.history.rules import is_boilerplate
from services.routing.learning.data import LabelledText, join_title

Progress = Callable[[str], None]
PROGRESS_EVERY = 250
# The fields of every line of HISTORY.jsonl, in order.
OUTPUT_FIELDS = ("id", "title", "text", "reply", "label", "label_confidence", "time", "reply_time")


@dataclass
class ImportSummary:
    """What an import did: rows read, labelled (per party), left unlabelled and dropped (per reason)."""

    read: int = 0
    labelled: int = 0
    unlabelled: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    labels: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    labelling: LabellingReport | None = None

    def to_json(self) -> dict[str, Any]:
        """The summary as the command prints it."""
        report = self.labelling
        return {
            "read": self.read,
            "labelled": self.labelled,
            "unlabelled": self.unlabelled,
            "dropped": sum(self.dropped.values()),
            "dropped_by_reason": dict(self.dropped),
            "labels": dict(self.labels),
            "rule_confident": report.rule_confident if report else {},
            "model_agreement_with_rules": report.model_agreement if report else None,
            "model_ece": report.model_ece if report else None,
            "seconds": round(self.seconds, 2),
        }


def _scrubbed(row: HistoryRow) -> HistoryRow:
    return HistoryRow(
        source=row.source,
        id=row.id,
        title=scrub(row.title),
        text=scrub(row.text),
        reply=scrub(row.reply),
        time=row.time,
        reply_time=row.reply_time,
    )


def _kept_rows(paths: Sequence[Path], summary: ImportSummary, say: Progress) -> list[HistoryRow]:
    """Every row read, scrubbed, without the ones that say nothing (no message, no reply, or boilerplate)."""
    kept: list[HistoryRow] = []
    for path in paths:
        for row in read_history(path):
            summary.read += 1
            if summary.read % PROGRESS_EVERY == 0:
                say(f"read and scrubbed {summary.read} rows")
            if not row.text:
                summary.dropped["no message"] += 1
            elif not row.reply:
                summary.dropped["no reply"] += 1
            elif is_boilerplate(row.reply):
                summary.dropped["boilerplate reply"] += 1
            else:
                kept.append(_scrubbed(row))
    say(f"read {summary.read} rows from {len(paths)} file(s); {len(kept)} have a reply that says what was done")
    return kept


def import_history(
    paths: Sequence[Path], *, min_confidence: float, progress: Progress | None = None
) -> tuple[list[dict[str, Any]], ImportSummary]:
    """The HISTORY.jsonl lines of `paths` and what the import did.

    Raises:
        InvalidArgument: a file that cannot be read or a row without message or reply columns.
    """
    say = progress or (lambda _line: None)
    started = time.perf_counter()
    summary = ImportSummary()
    rows = _kept_rows(paths, summary, say)
    inferred, summary.labelling = infer_labels([row.reply for row in rows], say)
    lines = []
    for row, guess in zip(rows, inferred, strict=True):
        sure = guess.confidence >= min_confidence
        label = guess.label if sure else ""
        if sure:
            summary.labelled += 1
            summary.labels[label] += 1
        else:
            summary.unlabelled += 1
        values = (row.id, row.title, row.text, row.reply, label, round(guess.confidence, 4), row.time, row.reply_time)
        lines.append(dict(zip(OUTPUT_FIELDS, values, strict=True)))
    summary.seconds = time.perf_counter() - started
    return lines, summary


def write_jsonl(lines: Iterable[dict[str, Any]], out: TextIO) -> None:
    """One JSON object a line, Chinese kept readable."""
    for line in lines:
        out.write(json.dumps(line, ensure_ascii=False) + "\n")


def read_imported(path: Path) -> list[dict[str, Any]]:
    """The lines of a HISTORY.jsonl that `import_history` wrote (or any JSONL with the same fields)."""
    lines: list[dict[str, Any]] = []
    if not path.is_file():
        raise InvalidArgument.for_field(str(path), "no such file")
    with path.open(encoding="utf-8") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                value = json.loads(raw)
            except json.JSONDecodeError as error:
                raise InvalidArgument.for_field(f"{path}:{number}", f"not valid JSON ({error.msg})") from error
            if not isinstance(value, dict) or not isinstance(value.get("text"), str):
                raise InvalidArgument.for_field(f"{path}:{number}", 'expected an object with a "text" string')
            lines.append(value)
    return lines


def is_history_file(path: Path) -> bool:
    """Whether the first line of a JSONL file is one `import_history` wrote (it has label_confidence)."""
    try:
        with path.open(encoding="utf-8") as handle:
            first = next((line for line in handle if line.strip()), "")
        value = json.loads(first) if first else None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(value, dict) and "label_confidence" in value


def labelled_items(path: Path) -> list[LabelledText]:
    """The labelled messages of a HISTORY.jsonl as training or test items (title prepended); unlabelled skipped.

    Raises:
        InvalidArgument: an unreadable file, a bad line, or no labelled message at all.
    """
    items = [
        LabelledText(join_title(line.get("title"), line["text"].strip()), str(line["label"]))
        for line in read_imported(path)
        if line.get("label") and line["text"].strip()
    ]
    if not items:
        raise InvalidArgument.for_field(str(path), "holds no labelled messages")
    return items
