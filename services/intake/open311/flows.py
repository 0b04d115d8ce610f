"""Open311 GeoReport v2 (JSON) over tickets, for city platforms and third-party apps: http://wiki.open311.org/GeoReport_v2

Services are the responsibility catalog's entries; a service request is a ticket. A request's status is `open` until
the ticket is resolved or closed (a merged ticket follows the ticket it was merged into), `agency_responsible` is the
party in charge and `expected_datetime` the SLA deadline. Errors use the spec's shape, `[{code, description}]`.
Coordinates (`lat`/`long`, both or neither) are checked and kept with the ticket, and read back as given; a request
filed without them reads back null.

Keys: discovery and the service list are public (the catalog is); filing *and reading* requests need an `api_key`
that the operator issued (`LINLI_INTAKE_OPEN311_API_KEYS`). The spec requires the key for POST and lets a
jurisdiction require it for GET: here it does, so that no anonymous caller can enumerate residents' tickets.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from linli.errors import FieldViolation, InvalidArgument, LinliError, NotFound
from linli.parties import display_name
from linli.pii import scrub
from services.intake.database import Database
from services.intake.tickets.flows import TicketFlows
from services.intake.tickets.models import Ticket, TicketStatus
from services.intake.tickets.validation import LATITUDE_RANGE, LONGITUDE_RANGE, Submission, check_text
from services.intake.tickets.views import TicketView, views_of
from services.intake.topics.flows import CHINA_TIME, classify
from services.routing.catalog import Catalog, CatalogEntry

PREFIX = "/open311/v2"
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CLOSED_STATUSES = frozenset({TicketStatus.RESOLVED, TicketStatus.CLOSED})
DEFAULT_WINDOW = timedelta(days=90)  # the spec's default for GET requests without dates
MAX_RESULTS = 1000  # the spec's default cap
_BUILDING = re.compile(r"\d+\s*(?:号楼|幢|栋|号)")
# A request filed under a chosen service keeps it as a 【name】 tag opening the ticket text: workers read it, routing
# hears it, and reading the request back recovers the service without a column of its own.
_SERVICE_TAG = re.compile(r"^【([^【】]{1,64})】")


class Open311Error(Exception):
    """A GeoReport error: HTTP status and the `[{code, description}]` items."""

    def __init__(self, status: int, descriptions: list[str]) -> None:
        super().__init__("; ".join(descriptions))
        self.status = status
        self.descriptions = descriptions

    @classmethod
    def from_domain(cls, error: LinliError) -> Open311Error:
        """A domain error in GeoReport form: 400 for bad fields (one item each), else its own HTTP status."""
        if isinstance(error, InvalidArgument):
            return cls(400, [f"{v.field}: {v.description}" for v in error.violations] or [error.message])
        return cls(error.http_status, [error.message])

    def response(self) -> JSONResponse:
        """The spec's error body."""
        return JSONResponse([{"code": self.status, "description": d} for d in self.descriptions], self.status)


@dataclass(frozen=True)
class Open311Config:
    """What the endpoints need from settings: API keys (key → client name) and the communities served."""

    api_keys: Mapping[str, str]
    known_communities: frozenset[str]


class Open311:
    """Translates GeoReport requests to ticket flows and tickets to GeoReport service requests."""

    def __init__(self, flows: TicketFlows, database: Database, catalog: Catalog, config: Open311Config) -> None:
        self._flows = flows
        self._database = database
        self._catalog = catalog
        self._config = config
        self._by_name = {entry.name: entry for entry in catalog.entries}

    @property
    def catalog_version(self) -> str:
        """The version of the catalog the services come from (YYYY.MM.N)."""
        return self._catalog.version

    def services(self) -> list[dict[str, Any]]:
        """Every catalog entry as a GeoReport service."""
        return [
            {
                "service_code": entry.id,
                "service_name": entry.name,
                "description": entry.description,
                "metadata": False,
                "type": "realtime",
                "keywords": ",".join(entry.keywords),
                "group": self._party_name(entry.party),
            }
            for entry in self._catalog.entries
        ]

    def client_of(self, api_key: str, *, purpose: str) -> str:
        """The client an api_key was issued to; Open311Error 400 without a key, 403 for one nobody issued."""
        api_key = api_key.strip()
        if not api_key:
            raise Open311Error(400, [f"api_key: is required to {purpose}"])
        # Compared with every issued key in constant time: the time taken tells nothing about any key.
        found = [client for key, client in self._config.api_keys.items() if hmac.compare_digest(key, api_key)]
        if not found:
            raise Open311Error(403, ["api_key: invalid api_key"])
        return found[0]

    def submit(self, fields: Mapping[str, str]) -> list[dict[str, Any]]:
        """POST requests: files a ticket; raises Open311Error for a bad key (403) or bad fields (400)."""
        client = self.client_of(fields.get("api_key", ""), purpose="create a service request")
        entry, text, community, building, point = self._request_fields(fields)
        account_id = fields.get("account_id", "").strip()
        media_url = fields.get("media_url", "").strip()
        try:
            view, _ = self._flows.submit(
                Submission(
                    text=f"【{entry.name}】{text}",
                    community=community,
                    # Namespaced by client, so no client's account can rate or reopen an H5 resident's ticket.
                    resident_id=f"open311:{client}:{account_id}" if account_id else f"open311:{client}",
                    building=building,
                    attachment_urls=(media_url,) if media_url else (),
                    latitude=point[0] if point else None,
                    longitude=point[1] if point else None,
                )
            )
        except LinliError as error:
            raise Open311Error.from_domain(error) from error
        notice = f"已收到,正在分派给负责方(通常由{self._party_name(entry.party)}办理,时限 {entry.sla_hours} 小时)。"
        return [{"service_request_id": view.ticket.id, "service_notice": notice, "account_id": account_id or None}]

    def request(self, request_id: str, api_key: str) -> list[dict[str, Any]]:
        """GET requests/{id}: a list of one request, as the spec answers."""
        self.client_of(api_key, purpose="read service requests")
        try:
            return [self.as_service_request(self._flows.get(request_id))]
        except NotFound as error:
            raise Open311Error(404, [f"service_request_id: no request {request_id!r}"]) from error

    def search(self, params: Mapping[str, str]) -> list[dict[str, Any]]:
        """GET requests: by ids (which override every other filter), else by service, dates and status."""
        self.client_of(params.get("api_key", ""), purpose="read service requests")
        ids = [part.strip() for part in params.get("service_request_id", "").split(",") if part.strip()]
        if ids:
            by_ids = select(Ticket).where(Ticket.id.in_(ids)).order_by(Ticket.created_at.desc(), Ticket.id.desc())
            return [self.as_service_request(view) for view in self._views(by_ids)]
        violations: list[FieldViolation] = []
        end = _w3c(params.get("end_date", ""), "end_date", violations) or datetime.now(UTC)
        start = _w3c(params.get("start_date", ""), "start_date", violations) or end - DEFAULT_WINDOW
        wanted_status = {part.strip() for part in params.get("status", "").split(",") if part.strip()}
        if not wanted_status <= {"open", "closed"}:
            violations.append(FieldViolation("status", "must be open, closed or both (comma-separated)"))
        codes = {part.strip() for part in params.get("service_code", "").split(",") if part.strip()}
        if violations:
            raise Open311Error(400, [f"{v.field}: {v.description}" for v in violations])
        statement = (
            select(Ticket)
            .where(Ticket.created_at >= start, Ticket.created_at <= end)
            .order_by(Ticket.created_at.desc(), Ticket.id.desc())
            # Status and service are derived per ticket, so the database returns a margin over the cap.
            .limit(MAX_RESULTS * 5)
        )
        found = (self.as_service_request(view) for view in self._views(statement))
        matching = [
            request
            for request in found
            if (not wanted_status or request["status"] in wanted_status)
            and (not codes or request["service_code"] in codes)
        ]
        return matching[:MAX_RESULTS]

    def as_service_request(self, view: TicketView) -> dict[str, Any]:
        """One ticket in the spec's fields; personal data in the text is scrubbed (GET needs no key)."""
        ticket = view.ticket
        entry = self._entry_of(ticket)
        tagged = _SERVICE_TAG.match(ticket.text)
        description = ticket.text[tagged.end() :] if tagged and entry and tagged[1] == entry.name else ticket.text
        return {
            "service_request_id": ticket.id,
            "status": self._open_or_closed(view),
            "status_notes": self._status_notes(view),
            "service_name": entry.name if entry else "",
            "service_code": entry.id if entry else "",
            "description": scrub(description.strip()),
            "agency_responsible": self._party_name(ticket.party) if ticket.party else "",
            "service_notice": view.duplicate_notice,
            "requested_datetime": _iso(ticket.created_at),
            "updated_datetime": _iso(ticket.updated_at),
            "expected_datetime": _iso(ticket.sla_due_at) if ticket.sla_due_at else None,
            "address": f"{ticket.community}{ticket.building}",
            "address_id": None,
            "zipcode": None,
            "lat": ticket.latitude,
            "long": ticket.longitude,
            "media_url": ticket.attachment_urls[0] if ticket.attachment_urls else None,
        }

    def _views(self, statement: Any) -> list[TicketView]:
        with self._database.unit_of_work() as session:
            return views_of(list(session.scalars(statement)), session=session)

    def _request_fields(
        self, fields: Mapping[str, str]
    ) -> tuple[CatalogEntry, str, str, str, tuple[float, float] | None]:
        """The service entry, text, community, building and (lat, long) point of a POST; Open311Error 400 if bad."""
        violations: list[str] = []
        code = fields.get("service_code", "").strip()
        entry: CatalogEntry | None = None
        if not code:
            violations.append("service_code: is required")
        else:
            try:
                entry = self._catalog.get(code)
            except NotFound:
                violations.append(f"service_code: unknown service {code!r}; see services.json")
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
            (known for known in sorted(self._config.known_communities, key=len, reverse=True) if known in address), ""
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
        return entry, text, community, building, point

    def _entry_of(self, ticket: Ticket) -> CatalogEntry | None:
        tagged = _SERVICE_TAG.match(ticket.text)
        if tagged and tagged[1] in self._by_name:
            return self._by_name[tagged[1]]
        entry_id = classify(self._catalog, ticket.catalog_entry, ticket.text)
        return self._catalog.get(entry_id) if entry_id else None

    @staticmethod
    def _open_or_closed(view: TicketView) -> str:
        # A merged ticket is answered when the one it joined is.
        status = view.primary_status if view.ticket.status == TicketStatus.MERGED.value else view.ticket.status
        return "closed" if status is not None and TicketStatus(status) in CLOSED_STATUSES else "open"

    def _status_notes(self, view: TicketView) -> str:
        ticket = view.ticket
        party = self._party_name(ticket.party) if ticket.party else "负责方"
        notes = {
            TicketStatus.RECEIVED: "已收到,正在分派。",
            TicketStatus.ROUTED: f"已分派给{party}。",
            TicketStatus.NEEDS_MANUAL: "正在由社区人工分派。",
            TicketStatus.ACCEPTED: f"{party}已受理。",
            TicketStatus.IN_PROGRESS: f"{party}正在处理。",
            TicketStatus.TRANSFERRED: f"已转交{party}。",
            TicketStatus.REOPENED: "居民反映问题仍在,已重新办理。",
            TicketStatus.MERGED: f"与工单 {ticket.primary_id} 反映同一问题,合并办理。",
        }
        status = TicketStatus(ticket.status)
        if status in CLOSED_STATUSES:
            return scrub(ticket.resolution) or "已办结。"
        return notes[status]

    def _party_name(self, party: str) -> str:
        info = self._catalog.parties.get(party)
        return info.name if info is not None else display_name(party)


def _iso(moment: datetime) -> str:
    # W3C date-time with the offset, as the spec's examples: 2026-11-23T10:00:00+08:00.
    return moment.astimezone(CHINA_TIME).isoformat(timespec="seconds")


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


async def _fields(request: Request) -> dict[str, str]:
    """The POST fields, form-encoded (the spec's way) or JSON; `attribute: {k: v}` is read as `attribute[k]`."""
    body = await request.body()
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    fields: dict[str, str] = {k: v[0] for k, v in parse_qs(request.url.query, keep_blank_values=True).items()}
    if content_type == "application/json":
        try:
            raw = json.loads(body or b"{}")
        except (ValueError, RecursionError) as error:  # RecursionError: nesting deeper than the parser goes
            raise Open311Error(400, ["body: is not valid JSON"]) from error
        if not isinstance(raw, dict):
            raise Open311Error(400, ["body: must be a JSON object"])
        for key, value in raw.items():
            if key == "attribute" and isinstance(value, dict):
                fields.update({f"attribute[{k}]": str(v) for k, v in value.items()})
            elif value is not None:
                fields[str(key)] = str(value)
        return fields
    try:
        form = parse_qs(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError as error:
        raise Open311Error(400, ["body: must be UTF-8"]) from error
    fields.update({key: values[0] for key, values in form.items()})
    return fields


def open311_routes(open311: Callable[[], Open311]) -> APIRouter:
    """The GeoReport v2 routes; `open311` gives the translator (built on first use, when settings are read)."""
    router = APIRouter(prefix=PREFIX, tags=["open311"])

    def answer(work: Callable[[], Any], status: int = 200) -> JSONResponse:
        try:
            return JSONResponse(work(), status)
        except Open311Error as error:
            return error.response()
        except LinliError as error:
            return Open311Error.from_domain(error).response()

    @router.get("/discovery.json")
    def discovery(request: Request) -> JSONResponse:
        """Where the endpoint is and what it speaks."""
        catalog_version = open311().catalog_version
        year, month, _ = catalog_version.split(".")
        changeset = f"{year}-{int(month):02d}-01T00:00:00+08:00"
        url = str(request.url_for("open311_services")).removesuffix("/services.json")
        return JSONResponse(
            {
                "changeset": changeset,
                "contact": "请联系所在社区居委会或街道网格中心。",
                "key_service": "API keys are issued by the operator of this linli (LINLI_INTAKE_OPEN311_API_KEYS); "
                "filing and reading requests need one.",
                "endpoints": [
                    {
                        "specification": SPECIFICATION,
                        "url": url,
                        "changeset": changeset,
                        "type": "production",
                        "formats": ["application/json"],
                    }
                ],
            }
        )

    @router.get("/services.json", name="open311_services")
    def services() -> JSONResponse:
        """The service list: one service per catalog entry."""
        return answer(lambda: open311().services())

    @router.post("/requests.json")
    async def create_request(request: Request) -> JSONResponse:
        """Files a service request (needs `api_key`); answers `[{service_request_id, service_notice, account_id}]`."""
        try:
            fields = await _fields(request)
        except Open311Error as error:
            return error.response()
        return await run_in_threadpool(answer, lambda: open311().submit(fields), 201)

    @router.get("/requests.json")
    def list_requests(request: Request) -> JSONResponse:
        """Service requests by ids, or by service_code, start_date, end_date and status (open/closed); needs
        `api_key`."""
        params = dict(request.query_params)
        return answer(lambda: open311().search(params))

    @router.get("/requests/{request_id}.json")
    def get_request(request_id: str, request: Request) -> JSONResponse:
        """One service request, in a list as the spec answers; needs `api_key`."""
        api_key = request.query_params.get("api_key", "")
        return answer(lambda: open311().request(request_id, api_key))

    return router
