"""The case: a past complaint with its resolution, and the rules a case must meet to enter the memory."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path

import numpy as np
import numpy.typing as npt

from linli.errors import FieldViolation, InvalidArgument

MAX_TEXT_CHARS = 2000
MAX_ID_CHARS = 128


class CaseStatus(StrEnum):
    """Whether a case still waits for an answer."""

    OPEN = "open"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class CaseRecord:
    """One case as the memory stores and returns it."""

    id: str
    complaint: str
    resolution: str
    party: str
    community: str
    category: str = ""
    building: str = ""
    status: CaseStatus = CaseStatus.RESOLVED
    created_at: datetime | None = None
    resolved_at: datetime | None = None


@dataclass(frozen=True)
class CaseFilter:
    """Restrictions on a search; None or False means no restriction."""

    community: str | None = None
    party: str | None = None
    resolved_only: bool = False
    resolved_after: datetime | None = None
    resolved_before: datetime | None = None

    @property
    def is_empty(self) -> bool:
        """True when the filter lets every case through."""
        return not (self.community or self.party or self.resolved_only or self.resolved_after or self.resolved_before)


def validate_cases(cases: list[CaseRecord], *, field: str = "cases") -> None:
    """Raises InvalidArgument naming every bad field (`cases[3].party`), so nothing half-valid is written."""
    violations: list[FieldViolation] = []
    seen: set[str] = set()
    for position, case in enumerate(cases):
        where = f"{field}[{position}]"
        if not case.id.strip():
            violations.append(FieldViolation(f"{where}.id", "must not be empty"))
        elif len(case.id) > MAX_ID_CHARS:
            violations.append(FieldViolation(f"{where}.id", f"must be at most {MAX_ID_CHARS} characters"))
        elif case.id in seen:
            violations.append(FieldViolation(f"{where}.id", f"duplicate id {case.id!r} in one request"))
        seen.add(case.id)
        for name in ("complaint", "party", "community"):
            if not getattr(case, name).strip():
                violations.append(FieldViolation(f"{where}.{name}", "must not be empty"))
        for name in ("complaint", "resolution"):
            if len(getattr(case, name)) > MAX_TEXT_CHARS:
                violations.append(FieldViolation(f"{where}.{name}", f"must be at most {MAX_TEXT_CHARS} characters"))
        if case.status is CaseStatus.RESOLVED and not case.resolution.strip():
            violations.append(FieldViolation(f"{where}.resolution", "a resolved case needs its resolution"))
    if violations:
        raise InvalidArgument.for_fields(violations)


def validate_texts(texts: list[str], *, max_batch: int) -> None:
    """Raises InvalidArgument unless there are 1 to `max_batch` texts, each non-empty and short enough to embed."""
    if not texts:
        raise InvalidArgument.for_field("texts", "give at least one text")
    if len(texts) > max_batch:
        raise InvalidArgument.for_field("texts", f"at most {max_batch} texts per call")
    violations = []
    for i, text in enumerate(texts):
        if not text.strip():
            violations.append(FieldViolation(f"texts[{i}]", "must not be empty"))
        elif len(text) > MAX_TEXT_CHARS:
            violations.append(FieldViolation(f"texts[{i}]", f"must be at most {MAX_TEXT_CHARS} characters"))
    if violations:
        raise InvalidArgument.for_fields(violations)


def unit_query(vector: npt.NDArray[np.float32], dimension: int) -> npt.NDArray[np.float32]:
    """A query vector scaled to unit length, as one row; InvalidArgument for a wrong length, zero or non-finite."""
    if vector.shape != (dimension,):
        raise InvalidArgument.for_field("vector", f"must have {dimension} values, got {vector.size}")
    norm = float(np.linalg.norm(vector))
    if not np.isfinite(norm) or norm == 0.0:
        raise InvalidArgument.for_field("vector", "must be finite and non-zero")
    return (vector / norm).astype(np.float32).reshape(1, -1)


def read_corpus(path: Path) -> list[CaseRecord]:
    """Reads resolved cases from JSONL (keys as in services/retrieval/corpus/resolved_cases.jsonl).

    Raises ValueError naming file and line for a line that is not a case, including fields of the wrong JSON type.
    """
    cases = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise TypeError("a line must be a JSON object")
                for field in ("id", "complaint", "party", "community", "resolution", "category", "building"):
                    if field in row and not isinstance(row[field], str):
                        raise TypeError(f"{field} must be a string, got {type(row[field]).__name__}")
                cases.append(
                    CaseRecord(
                        id=row["id"],
                        complaint=row["complaint"],
                        resolution=row.get("resolution", ""),
                        party=row["party"],
                        category=row.get("category", ""),
                        community=row["community"],
                        building=row.get("building", ""),
                        status=CaseStatus(row.get("status", CaseStatus.RESOLVED.value)),
                        created_at=_timestamp(row.get("created_at")),
                        resolved_at=_timestamp(row.get("resolved_at")),
                    )
                )
            except (KeyError, ValueError, TypeError) as error:
                raise ValueError(f"{path}:{number}: not a case ({error})") from error
    return cases


def _timestamp(value: str | None) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"time {value!r} has no zone offset")
    return moment
