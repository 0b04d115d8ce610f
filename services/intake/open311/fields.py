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
from services.intake.tickets.validation import LATITUDE_RANGE, LONGITUDE_RANGE, check_contact_phone, check_text
from services.intake.topics.week import CHINA_TIME

MAX_WINDOW = timedelta(days=90)  # the spec's default range of GET requests, and its widest
MAX_PAGE_SIZE = 1000  # the spec's suggested default and cap of results per answer
MAX_PAGE = 100_000  # far past any 90 days of tickets; keeps the SQL offset a small number
MAX_DESCRIPTION_CHARS = 4000  # the spec's limit of a request's description
COMMUNITY_ATTRIBUTE = "attribute[community]"
_BUILDING = re.compile(r"\d+\s*(?:号楼|幢|栋|号)")


@dataclass(frozen=True)
class FiledRequest:
    """What a POST files: the service entry, text, community, building, (lat, long) point and the caller's phone
    (the spec's `phone`: the ticket's callback number, '' for none)."""

    entry: CatalogEntry
    text: str
    community: str
    building: str
    point: tuple[float, float] | None
    phone: str = ""


@dataclass(frozen=True)
class SearchFilter:
    """What a GET by service, dates, status and page (1-based) asks for; empty sets mean any."""

    start: datetime
    end: datetime
    statuses: frozenset[str]
    service_codes: frozenset[str]
    page: int = 1
    page_size: int = MAX_PAGE_SIZE


def read_filed_request(fields: Mapping[str, str], catalog: Catalog, jurisdiction: Collection[str]) -> FiledRequest:
    """The request a POST files into one of the `jurisdiction`'s communities; Open311Error 400 naming every bad
    field, 403 for a community outside the key's jurisdiction."""
    violations: list[str] = []
    entry = _service_entry(fields, catalog, violations)
    text = fields.get("description", "").strip()
    if not text:
        violations.append(f"description: is required (what happened, 2-{MAX_DESCRIPTION_CHARS:,} characters)")
    else:
        # Checked on its own: the service tag added in front must not make a one-character text long enough.
        violations.extend(f"{v.field}: {v.description}" for v in check_text(text, "description", MAX_DESCRIPTION_CHARS))
    address = fields.get("address_string", "").strip()
    has_point = bool(fields.get("lat", "").strip() or fields.get("long", "").strip())
    if has_point:
        violations.extend(_coordinate_violations(fields))
    if not (address or has_point or fields.get("address_id", "").strip()):
        violations.append("location: give lat and long, address_string or address_id")
    phone = fields.get("phone", "").strip()
    # Named by the spec's field: the ticket's own name for it (contact_phone) means nothing to a GeoReport client.
    violations.extend(f"phone: {v.description}" for v in check_contact_phone(phone))
    community = _community(fields, address, jurisdiction, violations)
    building = fields.get("attribute[building]", "").strip()
    if not building and (found := _BUILDING.search(address.replace(community, "", 1) if community else address)):
        building = found[0].replace(" ", "")
    if violations or entry is None:
        raise Open311Error(400, violations)
    if community not in jurisdiction:
        raise Open311Error(403, [f"{COMMUNITY_ATTRIBUTE}: {community!r} is outside this api_key's jurisdiction"])
    # Both were checked to be numbers in range when either was given.
    point = (float(fields["lat"]), float(fields["long"])) if has_point else None
    return FiledRequest(entry, text, community, building, point, phone)


def _community(fields: Mapping[str, str], address: str, jurisdiction: Collection[str], violations: list[str]) -> str:
    """The community named by the attribute, else jurisdiction_id, else the address, else the jurisdiction's only
    one; without any, a violation naming the required attribute."""
    named = fields.get(COMMUNITY_ATTRIBUTE, "").strip() or fields.get("jurisdiction_id", "").strip()
    if named:
        return named
    by_length = sorted(jurisdiction, key=len, reverse=True)
    if found := next((known for known in by_length if known in address), ""):
        return found
    if len(jurisdiction) == 1:
        return next(iter(jurisdiction))
    violations.append(f"{COMMUNITY_ATTRIBUTE}: is required; name the community, or give an address_string naming it")
    return ""


def read_search_filter(params: Mapping[str, str], now: datetime) -> SearchFilter:
    """The filter of a GET by service, dates, status and page; Open311Error 400 naming every bad parameter."""
    violations: list[FieldViolation] = []
    start = _w3c(params.get("start_date", ""), "start_date", violations)
    end = _w3c(params.get("end_date", ""), "end_date", violations)
    # The spec: the last 90 days by default; a range spans at most 90 days.
    end = end or (start + MAX_WINDOW if start else now)
    start = start or end - MAX_WINDOW
    if end < start:
        violations.append(FieldViolation("end_date", "must not be before start_date"))
    elif end - start > MAX_WINDOW:
        violations.append(FieldViolation("end_date", "the range from start_date may span at most 90 days"))
    statuses = frozenset(_listed(params.get("status", "")))
    if not statuses <= {"open", "closed"}:
        violations.append(FieldViolation("status", "must be open, closed or both (comma-separated)"))
    codes = frozenset(_listed(params.get("service_code", "")))
    page = _whole_number(params.get("page", ""), "page", 1, 1, MAX_PAGE, violations)
    page_size = _whole_number(params.get("page_size", ""), "page_size", MAX_PAGE_SIZE, 1, MAX_PAGE_SIZE, violations)
    if violations:
        raise Open311Error(400, [f"{v.field}: {v.description}" for v in violations])
    return SearchFilter(start, end, statuses, codes, page, page_size)


def _whole_number(raw: str, field: str, default: int, low: int, high: int, violations: list[FieldViolation]) -> int:
    if not raw.strip():
        return default
    bound = f"between {low} and {high}"
    try:
        value = int(raw.strip())
    except ValueError:
        violations.append(FieldViolation(field, f"must be a whole number {bound}, got {raw!r}"))
        return default
    if not low <= value <= high:
        violations.append(FieldViolation(field, f"must be {bound}"))
        return default
    return value


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
