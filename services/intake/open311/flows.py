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
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from linli.catalog import Catalog, CatalogEntry
from linli.errors import LinliError, NotFound
from linli.parties import display_name
from linli.pii import scrub
from services.intake.database import Database
from services.intake.open311 import repository
from services.intake.open311.errors import Open311Error
from services.intake.open311.fields import read_filed_request, read_search_filter, requested_ids
from services.intake.tickets.flows import TicketFlows
from services.intake.tickets.models import Ticket, TicketStatus
from services.intake.tickets.validation import Submission
from services.intake.tickets.views import TicketView, views_of
from services.intake.topics.flows import classify
from services.intake.topics.week import CHINA_TIME

CLOSED_STATUSES = frozenset({TicketStatus.RESOLVED, TicketStatus.CLOSED})
MAX_RESULTS = 1000  # the spec's default cap
# A request filed under a chosen service keeps it as a 【name】 tag opening the ticket text: workers read it, routing
# hears it, and reading the request back recovers the service without a column of its own.
_SERVICE_TAG = re.compile(r"^【([^【】]{1,64})】")


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
        filed = read_filed_request(fields, self._catalog, self._config.known_communities)
        entry, point = filed.entry, filed.point
        account_id = fields.get("account_id", "").strip()
        media_url = fields.get("media_url", "").strip()
        try:
            view, _ = self._flows.submit(
                Submission(
                    text=f"【{entry.name}】{filed.text}",
                    community=filed.community,
                    # Namespaced by client, so no client's account can rate or reopen an H5 resident's ticket.
                    resident_id=f"open311:{client}:{account_id}" if account_id else f"open311:{client}",
                    building=filed.building,
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
        if ids := requested_ids(params):
            return [self.as_service_request(view) for view in self._views(repository.tickets_by_ids, ids)]
        wanted = read_search_filter(params, datetime.now(UTC))
        # Status and service are derived per ticket, so the database returns a margin over the cap.
        found = (
            self.as_service_request(view)
            for view in self._views(repository.tickets_created_between, wanted.start, wanted.end, limit=MAX_RESULTS * 5)
        )
        matching = [
            request
            for request in found
            if (not wanted.statuses or request["status"] in wanted.statuses)
            and (not wanted.service_codes or request["service_code"] in wanted.service_codes)
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

    def _views(self, load: Callable[..., list[Ticket]], *args: Any, **kwargs: Any) -> list[TicketView]:
        """The views of the tickets `load(*args, **kwargs, session=...)` reads, in one unit of work."""
        with self._database.unit_of_work() as session:
            return views_of(load(*args, **kwargs, session=session), session=session)

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
