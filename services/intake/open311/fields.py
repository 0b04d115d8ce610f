"""Reading a GeoReport request's fields: a filed request (POST) and a search (GET), each checked, with every problem
named as the spec's error items."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from linli.catalog import Catalog, CatalogEntry
from linli.errors import FieldViolation, NotFound
from services.intake.open311.errors import Open311Error
from services.intake.tickets.validation import LATITUDE_RANGE, LONGITUDE_RANGE, check_text
from services.intake.topics.week import CHINA_TIME

DEFAULT_WINDOW = timedelta(days=90)  # the spec's default for GET requests without dates
_BUILDING = re.compile(r"\d+\s*(?:号楼|幢|栋|号)")


@dataclass(frozen=True)
class FiledRequest:
    """What a POST files: the service entry, text, community, building and (lat, long) point."""

    entry: CatalogEntry
    text: str
    community: str
    building: str
    point: tuple[float, float] | None


@dataclass(frozen=True)
class SearchFilter:
    """What a GET by service, dates and status asks for; empty sets mean any."""

    start: datetime
    end: datetime
    statuses: frozenset[str]
    service_codes: frozenset[str]


def read_filed_request(fields: Mapping[str, str], catalog: Catalog, known_communities: Collection[str]) -> FiledRequest:
    """The request a POST files; Open311Error 400 naming every bad field."""
    violations: list[str] = []
    entry = _service_entry(fields, catalog, violations)
    text = fields.get("description", "").strip()
    if not text:
        violations.append("description: is required (what happened, 2-2,000 characters)")
    else:
        # Checked on its own: the service tag added in front must not make a one-character text long enough.
        violations.extend(f"{v.field}: {v.description}" for v in check_text(text, "description"))
    address = fields.get("address_string", "").strip()
    has_point = bool(fields.get("lat", "").strip() or fields.get("long", "").strip())
    if has_point:
        violations.extend(_coordinate_violations(fields))
    if not (address or has_point or fields.get("address_id", "").strip()):
        violations.append("location: give lat and long, address_string or address_id")
    community = fields.get("attribute[community]", "").strip() or next(
        (known for known in sorted(known_communities, key=len, reverse=True) if known in address), ""
    )
    if not community:
        violations.append("attribute[community]: name the community, or give an address_string that names it")
    building = fields.get("attribute[building]", "").strip()
    if not building and (found := _BUILDING.search(address.replace(community, "", 1) if community else address)):
        building = found[0].replace(" ", "")
    if violations or entry is None:
        raise Open311Error(400, violations)
    # Both were checked to be numbers in range when either was given.
    point = (float(fields["lat"]), float(fields["long"])) if has_point else None
    return FiledRequest(entry, text, community, building, point)


def read_search_filter(params: Mapping[str, str], now: datetime) -> SearchFilter:
    """The filter of a GET by service, dates and status; Open311Error 400 naming every bad parameter."""
    violations: list[FieldViolation] = []
    end = _w3c(params.get("end_date", ""), "end_date", violations) or now
    start = _w3c(params.get("start_date", ""), "start_date", violations) or end - DEFAULT_WINDOW
    statuses = frozenset(_listed(params.get("status", "")))
    if not statuses <= {"open", "closed"}:
        violations.append(FieldViolation("status", "must be open, closed or both (comma-separated)"))
    codes = frozenset(_listed(params.get("service_code", "")))
    if violations:
        raise Open311Error(400, [f"{v.field}: {v.description}" for v in violations])
    return SearchFilter(start, end, statuses, codes)


def requested_ids(params: Mapping[str, str]) -> list[str]:
    """The ids a GET asks for by `service_request_id` (comma-separated), in order."""
    return _listed(params.get("service_request_id", ""))


def _listed(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _service_entry(fields: Mapping[str, str], catalog: Catalog, violations: list[str]) -> CatalogEntry | None:
    code = fields.get("service_code", "").strip()
    if not code:
        violations.append("service_code: is required")
        return None
    try:
        return catalog.get(code)
    except NotFound:
        violations.append(f"service_code: unknown service {code!r}; see services.json")
        return None


def _w3c(value: str, field: str, violations: list[FieldViolation]) -> datetime | None:
    if not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        violations.append(
            FieldViolation(field, f"must be a W3C date-time such as 2026-11-23T08:00:00+08:00, got {value!r}")
        )
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=CHINA_TIME)


def _coordinate_violations(fields: Mapping[str, str]) -> list[str]:
    problems = []
    for name, (low, high) in (("lat", LATITUDE_RANGE), ("long", LONGITUDE_RANGE)):
        raw = fields.get(name, "").strip()
        try:
            value = float(raw)
        except ValueError:
            problems.append(f"{name}: must be a decimal number of degrees, got {raw!r}")
            continue
        if not low <= value <= high:
            problems.append(f"{name}: must be between {low:g} and {high:g}")
    return problems
