"""Checks across a catalog's records: known parties and sources, unique ids, sane values."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from linli.catalog.matching import normalise
from linli.catalog.records import (
    ESCALATION_ORDER,
    MIN_PHRASINGS,
    URGENCIES,
    CatalogEntry,
    CatalogError,
    PartyInfo,
    Source,
)
from linli.errors import FieldViolation


def cross_reference_violations(
    parties: Mapping[str, PartyInfo], sources: Mapping[str, Source], entries: Sequence[CatalogEntry]
) -> list[FieldViolation]:
    """Every reference to an unknown party or source, duplicate id and out-of-range value of the entries."""
    out: list[FieldViolation] = []
    seen: set[str] = set()
    known_parties = ", ".join(parties) or "(none)"
    for entry in entries:

        def add(name: str, description: str, entry_id: str = entry.id) -> None:
            out.append(FieldViolation(f"entries[{entry_id}].{name}", description))

        if entry.id in seen:
            add("id", "duplicate id: entry ids must be unique (and stable)")
        seen.add(entry.id)
        if entry.party not in parties:
            add("party", f"unknown party {entry.party!r}; known: {known_parties}")
        for co_party in entry.co_parties:
            if co_party == entry.party:
                add("co_parties", f"lists the entry's own party {co_party!r}")
            elif co_party not in parties:
                add("co_parties", f"unknown party {co_party!r}; known: {known_parties}")
        if len(set(entry.co_parties)) != len(entry.co_parties):
            add("co_parties", "lists a party twice")
        if not entry.basis_sources:
            add("basis_sources", "needs at least one source id")
        for source_id in entry.basis_sources:
            if source_id not in sources:
                add("basis_sources", f"unknown source id {source_id!r}")
        if entry.sla_hours <= 0:
            add("sla_hours", f"must be a positive number of hours, got {entry.sla_hours}")
        if entry.urgency not in URGENCIES:
            add("urgency", f"must be one of {', '.join(URGENCIES)}, got {entry.urgency!r}")
        if entry.escalation_level not in ESCALATION_ORDER:
            add("escalation_level", f"must be one of {', '.join(ESCALATION_ORDER)}, got {entry.escalation_level!r}")
        if len(entry.phrasings) < MIN_PHRASINGS:
            add("phrasings", f"needs at least {MIN_PHRASINGS} phrasings, got {len(entry.phrasings)}")
        if not entry.keywords:
            add("keywords", "needs at least one keyword")
        for keyword in entry.keywords:
            normal = normalise(keyword)
            if len(normal) < 2 or "|" in normal:
                add("keywords", f"{keyword!r} must be one word of at least 2 characters (particles like 的/了 ignored)")
    return out


def catalog_error(origin: str, violations: list[FieldViolation]) -> CatalogError:
    """One CatalogError naming every violation, in its message and its field violations."""
    message = "; ".join(f"{v.field}: {v.description}" for v in violations)
    return CatalogError(f"{origin}: {message}", violations=tuple(violations))
