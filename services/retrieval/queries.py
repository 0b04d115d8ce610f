"""A search as asked (a text or a vector, how many, which cases), checked before anything is embedded or searched."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from linli.embedding import Vectors
from linli.errors import FieldViolation, InvalidArgument
from services.retrieval.cases import MAX_TEXT_CHARS, CaseFilter, CaseRecord, unit_query

# A search's answer: the unit vector it searched with, and the cases found with their cosine, closest first.
SearchAnswer = tuple[npt.NDArray[np.float32], list[tuple[CaseRecord, float]]]


@dataclass(frozen=True)
class SearchQuery:
    """One search: by `text` (embedded by the service) or by `vector` (one row of the index's dimension)."""

    k: int
    case_filter: CaseFilter
    text: str | None = None
    vector: Vectors | None = None


def checked_query(
    query: SearchQuery, *, max_k: int, dimension: int, known: Callable[[str, str], bool]
) -> Vectors | None:
    """The unit row of a vector query (None for a text query); InvalidArgument naming the bad fields otherwise.

    `known(column, value)` says whether any case has that community or party: a filter on one that none has is the
    caller's mistake (a typo), not an empty answer.
    """
    if not 1 <= query.k <= max_k:
        raise InvalidArgument.for_field("k", f"must be between 1 and {max_k}")
    _check_filter(query.case_filter, known)
    if query.vector is not None:
        return unit_query(query.vector, dimension)
    if query.text is None or not query.text.strip():
        raise InvalidArgument.for_field("text", "give a non-empty text or a vector")
    if len(query.text) > MAX_TEXT_CHARS:
        raise InvalidArgument.for_field("text", f"must be at most {MAX_TEXT_CHARS} characters")
    return None


def _check_filter(case_filter: CaseFilter, known: Callable[[str, str], bool]) -> None:
    violations = []
    for column in ("party", "community"):
        value = getattr(case_filter, column)
        if value and not known(column, value):
            violations.append(FieldViolation(f"filter.{column}", f"unknown {column} {value!r}"))
    after, before = case_filter.resolved_after, case_filter.resolved_before
    if after and before and after >= before:
        violations.append(FieldViolation("filter.resolved_after", "must be before filter.resolved_before"))
    if violations:
        raise InvalidArgument.for_fields(violations)
