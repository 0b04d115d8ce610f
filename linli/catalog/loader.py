"""Loading the catalog's YAML file (`data/responsibility_catalog.yaml`, described in docs/catalog.md) field by field."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from linli.catalog.model import Catalog
from linli.catalog.records import CatalogEntry, CatalogError, PartyInfo, Source
from linli.catalog.validation import catalog_error, cross_reference_violations
from linli.errors import FieldViolation
from linli.parties import is_party_id

DEFAULT_CATALOG_PATH = Path(__file__).with_name("data") / "responsibility_catalog.yaml"

_ENTRY_FIELDS = frozenset(
    {"id", "name", "description", "phrasings", "keywords", "party", "co_parties", "basis", "basis_sources"}
    | {"sla_hours", "urgency", "escalation_level"}
)
_TOP_LEVEL_FIELDS = frozenset({"version", "parties", "sources", "entries"})
_ENTRY_ID = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")
_VERSION = re.compile(r"^\d{4}\.\d{1,2}\.\d+$")  # calendar version: YYYY.MM.N


def load_catalog(path: Path | None = None) -> Catalog:
    """Loads and validates a catalog file (default: the packaged one); CatalogError names every bad field."""
    source_path = path or DEFAULT_CATALOG_PATH
    try:
        raw = yaml.safe_load(source_path.read_text(encoding="utf-8"))
    except OSError as error:
        raise CatalogError(f"cannot read catalog {source_path}: {error.strerror or error}") from error
    except yaml.YAMLError as error:
        raise CatalogError(f"catalog {source_path} is not valid YAML: {error}") from error
    violations: list[FieldViolation] = []
    version, parties, sources, entries = _parse(raw, violations)
    if not violations:
        violations = cross_reference_violations(parties, sources, entries)
    if violations:
        raise catalog_error(f"invalid catalog {source_path}", violations)
    return Catalog(version=version, parties=parties, entries=entries, sources=sources)


def _parse(
    raw: object, out: list[FieldViolation]
) -> tuple[str, dict[str, PartyInfo], dict[str, Source], tuple[CatalogEntry, ...]]:
    if not isinstance(raw, dict):
        out.append(FieldViolation("(top level)", "must be a mapping with version, parties, sources and entries"))
        return "", {}, {}, ()
    for unknown in sorted(set(raw) - _TOP_LEVEL_FIELDS, key=str):
        out.append(FieldViolation(str(unknown), "unknown top-level field"))
    version = _text(raw, "version", "", out)
    if version and not _VERSION.match(version):
        out.append(FieldViolation("version", f"must look like YYYY.MM.N (e.g. 2026.11.1), got {version!r}"))
    parties, sources = _parse_parties(raw.get("parties"), out), _parse_sources(raw.get("sources"), out)
    entries = (_parse_entry(item, index, out) for index, item in enumerate(_list(raw, "entries", "", out)))
    return version, parties, sources, tuple(entry for entry in entries if entry is not None)


def _parse_parties(raw: object, out: list[FieldViolation]) -> dict[str, PartyInfo]:
    if not isinstance(raw, dict) or not raw:
        out.append(FieldViolation("parties", "must map each party id to its name and description"))
        return {}
    parties: dict[str, PartyInfo] = {}
    for party_id, info in raw.items():
        where = f"parties[{party_id}]"
        if not isinstance(party_id, str) or not is_party_id(party_id):
            out.append(FieldViolation(where, "party ids are short snake_case words"))
        elif not isinstance(info, dict):
            out.append(FieldViolation(where, "must have a name and a description"))
        else:
            name, description = _text(info, "name", where, out), _text(info, "description", where, out)
            parties[party_id] = PartyInfo(party_id, name, description)
    return parties


def _parse_sources(raw: object, out: list[FieldViolation]) -> dict[str, Source]:
    if not isinstance(raw, list):
        out.append(FieldViolation("sources", "must be a list of {id, citation}"))
        return {}
    sources: dict[str, Source] = {}
    for index, item in enumerate(raw):
        where = f"sources[{index}]"
        if not isinstance(item, dict):
            out.append(FieldViolation(where, "must be a mapping with id and citation"))
            continue
        source = Source(_text(item, "id", where, out), _text(item, "citation", where, out))
        if source.id in sources:
            out.append(FieldViolation(f"sources[{source.id}].id", "duplicate source id"))
        sources[source.id] = source
    return sources


def _parse_entry(raw: object, index: int, out: list[FieldViolation]) -> CatalogEntry | None:
    if not isinstance(raw, dict):
        out.append(FieldViolation(f"entries[{index}]", "must be a mapping"))
        return None
    entry_id = raw.get("id")
    where = f"entries[{entry_id}]" if isinstance(entry_id, str) and entry_id else f"entries[{index}]"
    for unknown in sorted(set(raw) - _ENTRY_FIELDS, key=str):
        out.append(FieldViolation(f"{where}.{unknown}", "unknown field"))
    entry_id = _text(raw, "id", where, out)
    if entry_id and not _ENTRY_ID.match(entry_id):
        out.append(FieldViolation(f"{where}.id", "must be snake_case English (a-z, 0-9, _), e.g. lift_breakdown"))
    sla_hours = raw.get("sla_hours")
    if not isinstance(sla_hours, int) or isinstance(sla_hours, bool):
        out.append(FieldViolation(f"{where}.sla_hours", f"must be a whole number of hours, got {sla_hours!r}"))
        sla_hours = 0
    return CatalogEntry(
        id=entry_id,
        name=_text(raw, "name", where, out),
        description=_text(raw, "description", where, out),
        phrasings=_texts(raw, "phrasings", where, out),
        keywords=_texts(raw, "keywords", where, out),
        party=_text(raw, "party", where, out),
        co_parties=_texts(raw, "co_parties", where, out),
        basis=_text(raw, "basis", where, out),
        basis_sources=_texts(raw, "basis_sources", where, out),
        sla_hours=sla_hours,
        urgency=_text(raw, "urgency", where, out),  # type: ignore[arg-type]  # checked against URGENCIES next
        escalation_level=_text(raw, "escalation_level", where, out),  # type: ignore[arg-type]  # likewise
    )


def _field_name(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _text(raw: Mapping[str, Any], key: str, where: str, out: list[FieldViolation]) -> str:
    value = raw.get(key)
    if isinstance(value, str) and value.strip():
        return value.strip()
    problem = "is required" if value is None else "must be a non-empty string"
    out.append(FieldViolation(_field_name(where, key), problem))
    return ""


def _list(raw: Mapping[str, Any], key: str, where: str, out: list[FieldViolation]) -> list[Any]:
    value = raw.get(key)
    if isinstance(value, list):
        return value
    out.append(FieldViolation(_field_name(where, key), "is required (a list)" if value is None else "must be a list"))
    return []


def _texts(raw: Mapping[str, Any], key: str, where: str, out: list[FieldViolation]) -> tuple[str, ...]:
    values = _list(raw, key, where, out)
    if all(isinstance(value, str) and value.strip() for value in values):
        return tuple(value.strip() for value in values)
    out.append(FieldViolation(_field_name(where, key), "every item must be a non-empty string"))
    return ()
