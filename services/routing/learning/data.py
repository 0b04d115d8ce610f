"""Labelled texts from JSONL files: training corpora, test sets and routing corrections, with file:line errors."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from linli.errors import InvalidArgument

# Field pairs recognised without options, in order: the generic format, then the case corpus's own.
KNOWN_FORMATS: tuple[tuple[str, str], ...] = (("text", "label"), ("complaint", "party"))
TITLE_FIELD = "title"


@dataclass(frozen=True)
class LabelledText:
    """One training or test item: the text to route (title already prepended) and its true label."""

    text: str
    label: str


@dataclass(frozen=True)
class Correction:
    """A worker moved a routed ticket from one label to another: `to` is the truth."""

    text: str
    wrong: str
    right: str


def join_title(title: object, text: str) -> str:
    """Prepends a non-empty title, so the subject line counts like the message it summarises."""
    if isinstance(title, str) and title.strip():
        return f"{title.strip()}\n{text}"
    return text


def _bad(path: Path, line_number: int, description: str) -> InvalidArgument:
    return InvalidArgument.for_field(f"{path}:{line_number}", description)


def _objects(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yields (line number, object) for each non-blank line; a line that is not a JSON object is an error."""
    try:
        handle = path.open(encoding="utf-8")
    except OSError as error:
        raise InvalidArgument.for_field(str(path), f"cannot read: {error.strerror or error}") from error
    with handle:
        try:
            for line_number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)
                except json.JSONDecodeError as error:
                    raise _bad(path, line_number, f"not valid JSON ({error.msg} at column {error.colno})") from error
                if not isinstance(value, dict):
                    raise _bad(path, line_number, f"expected a JSON object, got {type(value).__name__}")
                yield line_number, value
        except UnicodeDecodeError as error:
            raise InvalidArgument.for_field(str(path), f"not UTF-8 text ({error.reason})") from error


def _detect_fields(path: Path, line_number: int, row: dict[str, Any]) -> tuple[str, str]:
    for text_field, label_field in KNOWN_FORMATS:
        if text_field in row and label_field in row:
            return text_field, label_field
    expected = " or ".join(f'"{t}" and "{label}"' for t, label in KNOWN_FORMATS)
    raise _bad(path, line_number, f"cannot tell the format: expected {expected} (or pass --text-field/--label-field)")


def _string_field(path: Path, line_number: int, row: dict[str, Any], field: str) -> str:
    value = row.get(field)
    if not isinstance(value, str) or not value.strip():
        raise _bad(path, line_number, f'"{field}" must be a non-empty string')
    return value.strip()


def read_texts(path: Path) -> list[str]:
    """The texts (title prepended) of `{"text", "title"?}` lines, labelled or not; for prior estimation.

    Raises:
        InvalidArgument: naming `file:line` of the first line without a text, or the file when it holds none.
    """
    texts = [
        join_title(row.get(TITLE_FIELD), _string_field(path, line_number, row, "text"))
        for line_number, row in _objects(path)
    ]
    if not texts:
        raise InvalidArgument.for_field(str(path), "holds no texts")
    return texts


def read_labelled(path: Path, *, text_field: str | None = None, label_field: str | None = None) -> list[LabelledText]:
    """Reads `{"text", "label", "title"?}` lines, or any other pair of fields.

    Args:
        path: a JSONL file, one object a line; blank lines are skipped.
        text_field: the field holding the text; with `label_field` None, both are detected from the first line
            ("text"/"label", then the case corpus's "complaint"/"party").
        label_field: the field holding the label.

    Raises:
        InvalidArgument: naming `file:line` of the first bad line, or the file when it is unreadable or empty.
    """
    fields = (text_field, label_field) if text_field and label_field else None
    items: list[LabelledText] = []
    for line_number, row in _objects(path):
        if fields is None:
            detected = _detect_fields(path, line_number, row)
            fields = (text_field or detected[0], label_field or detected[1])
        text = _string_field(path, line_number, row, fields[0])
        label = _string_field(path, line_number, row, fields[1])
        items.append(LabelledText(join_title(row.get(TITLE_FIELD), text), label))
    if not items:
        raise InvalidArgument.for_field(str(path), "holds no labelled lines")
    return items


def read_corrections(path: Path) -> list[Correction]:
    """Reads routing corrections, `{"text", "from", "to", "title"?}` lines, as the ticket lifecycle writes them."""
    corrections = []
    for line_number, row in _objects(path):
        text = _string_field(path, line_number, row, "text")
        wrong = _string_field(path, line_number, row, "from")
        right = _string_field(path, line_number, row, "to")
        corrections.append(Correction(join_title(row.get(TITLE_FIELD), text), wrong, right))
    return corrections


def with_corrections(items: Iterable[LabelledText], corrections: Iterable[Correction]) -> list[LabelledText]:
    """The training items with each corrected text relabelled to its `to` label (added when it was not there).

    A correction is a worker's later, informed decision about that very text, so it overrides the original label
    rather than adding a contradicting duplicate.
    """
    truth = {correction.text: correction.right for correction in corrections}
    merged = [LabelledText(item.text, truth.get(item.text, item.label)) for item in items]
    present = {item.text for item in merged}
    merged.extend(LabelledText(text, label) for text, label in truth.items() if text not in present)
    return merged


def checksum(items: Iterable[LabelledText]) -> str:
    """SHA-256 over the (text, label) pairs in order: names the exact data a model was trained on."""
    digest = hashlib.sha256()
    for item in items:
        digest.update(json.dumps([item.text, item.label], ensure_ascii=False).encode())
        digest.update(b"\n")
    return digest.hexdigest()
