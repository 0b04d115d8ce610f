"""Open311 GeoReport v2 (XML and JSON) over tickets, for city platforms and third-party apps:
http://wiki.open311.org/GeoReport_v2

Services are the responsibility catalog's entries; a service request is a ticket. A request's status is `open` until
the ticket is resolved or closed (a merged ticket follows the ticket it was merged into), `agency_responsible` is the
party in charge and `expected_datetime` the SLA deadline. Errors use the spec's shape, `[{code, description}]`.

Keys: discovery and the services are public (the catalog is); filing *and reading* requests need an `api_key` that
the operator issued (`LINLI_INTAKE_OPEN311_API_KEYS`). The spec requires the key for POST and lets a jurisdiction
require it for GET: here it does, so that no anonymous caller can enumerate residents' tickets. A key files and reads
in its client's jurisdiction only (`LINLI_INTAKE_OPEN311_CLIENT_COMMUNITIES`; a client not listed serves every
community); `jurisdiction_id`, when given, names one community of it.
"""

from __future__ import annotations

import hmac
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from linli.catalog import Catalog
from linli.errors import LinliError, NotFound
from services.intake.database import Database
from services.intake.open311 import repository
from services.intake.open311.errors import Open311Error
from services.intake.open311.fields import (
    MAX_DESCRIPTION_CHARS,
    SearchFilter,
    read_filed_request,
    read_search_filter,
    requested_ids,
)
from services.intake.open311.presenting import Presenter, service_tag
from services.intake.tickets.flows import TicketFlows
from services.intake.tickets.validation import CommunityNames, Submission, community_names
from services.intake.tickets.views import views_of

MAX_IDS = 1000  # ids one GET may ask for: as many as a page holds


@dataclass(frozen=True)
class Open311Config:
    """What the endpoints need: API keys (key → client name), the communities served (in service the
    organisation's table, asked at each request) and the communities of each client's jurisdiction (a client not
    listed serves them all)."""

    api_keys: Mapping[str, str]
    known_communities: Collection[str] | CommunityNames
    client_communities: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def served(self) -> frozenset[str]:
        """The communities served now."""
        return frozenset(community_names(self.known_communities)())


@dataclass(frozen=True)
class Caller:
    """An issued key's client and the communities it may file and read in."""

    client: str
    communities: frozenset[str]


class Open311:
    """Translates GeoReport requests to ticket flows and tickets to GeoReport service requests."""

    def __init__(self, flows: TicketFlows, database: Database, catalog: Catalog, config: Open311Config) -> None:
        self._flows = flows
        self._database = database
        self._catalog = catalog
        self._config = config
        self._presenter = Presenter(catalog)

    @property
    def catalog_version(self) -> str:
        """The version of the catalog the services come from (YYYY.MM.N)."""
        return self._catalog.version

    def services(self) -> list[dict[str, Any]]:
        """Every catalog entry as a GeoReport service."""
        return [self._presenter.service(entry) for entry in self._catalog.entries]

    def service_definition(self, service_code: str, jurisdiction_id: str = "") -> dict[str, Any]:
        """The attributes a request of `service_code` takes; Open311Error 404 for a code the catalog lacks."""
        try:
            entry = self._catalog.get(service_code)
        except NotFound as error:
            raise Open311Error(404, [f"service_code: unknown service {service_code!r}; see services.xml"]) from error
        communities = self._config.served()
        if jurisdiction_id.strip():
            communities = frozenset({self._known_community(jurisdiction_id)})
        return self._presenter.service_definition(entry, communities)

    def caller(self, params: Mapping[str, str], *, purpose: str) -> Caller:
        """Who `api_key` was issued to and where it may act (narrowed to `jurisdiction_id` when given);
        Open311Error 400 without a key, 403 for one nobody issued or a community outside its jurisdiction."""
        api_key = params.get("api_key", "").strip()
        if not api_key:
            raise Open311Error(400, [f"api_key: is required to {purpose}"])
        # Compared with every issued key in constant time: the time taken tells nothing about any key.
        found = [client for key, client in self._config.api_keys.items() if hmac.compare_digest(key, api_key)]
        if not found:
            raise Open311Error(403, ["api_key: invalid api_key"])
        client = found[0]
        communities = self._config.client_communities.get(client) or self._config.served()
        if jurisdiction := params.get("jurisdiction_id", "").strip():
            if self._known_community(jurisdiction) not in communities:
                raise Open311Error(403, [f"jurisdiction_id: {jurisdiction!r} is outside this api_key's jurisdiction"])
            communities = frozenset({jurisdiction})
        return Caller(client, communities)

    def submit(self, fields: Mapping[str, str]) -> list[dict[str, Any]]:
        """POST requests: files a ticket; raises Open311Error for a bad key (400/403) or bad fields (400)."""
        caller = self.caller(fields, purpose="create a service request")
        filed = read_filed_request(fields, self._catalog, caller.communities)
        entry, point = filed.entry, filed.point
        account_id = fields.get("account_id", "").strip()
        media_url = fields.get("media_url", "").strip()
        tag = service_tag(entry)
        try:
            view, _ = self._flows.submit(
                Submission(
                    text=f"{tag}{filed.text}",
                    community=filed.community,
                    # Namespaced by client, so no client's account can rate or reopen an H5 resident's ticket.
                    resident_id=f"open311:{caller.client}:{account_id}" if account_id else f"open311:{caller.client}",
                    building=filed.building,
                    attachment_urls=(media_url,) if media_url else (),
                    latitude=point[0] if point else None,
                    longitude=point[1] if point else None,
                    contact_phone=filed.phone,
                    max_text_chars=MAX_DESCRIPTION_CHARS + len(tag),
                )
            )
        except LinliError as error:
            raise Open311Error.from_domain(error) from error
        party = self._presenter.party_name(entry.party)
        notice = f"已收到,正在分派给负责方(通常由{party}办理,时限 {entry.sla_hours} 小时)。"
        return [{"service_request_id": view.ticket.id, "service_notice": notice, "account_id": account_id or None}]

    def request(self, request_id: str, params: Mapping[str, str]) -> list[dict[str, Any]]:
        """GET requests/{id}: a list of one request, as the spec answers; 404 outside the key's jurisdiction."""
        caller = self.caller(params, purpose="read service requests")
        with self._database.unit_of_work() as session:
            found = repository.tickets_by_ids([request_id], caller.communities, session=session)
            views = views_of(found, session=session)
        if not views:
            raise Open311Error(404, [f"service_request_id: no request {request_id!r}"])
        return [self._presenter.service_request(views[0], caller.client)]

    def search(self, params: Mapping[str, str]) -> list[dict[str, Any]]:
        """GET requests: by ids (which override every other filter), else one page by service, dates and status."""
        caller = self.caller(params, purpose="read service requests")
        with self._database.unit_of_work() as session:
            if ids := requested_ids(params):
                found = repository.tickets_by_ids(ids[:MAX_IDS], caller.communities, session=session)
            else:
                wanted = read_search_filter(params, datetime.now(UTC))
                found = repository.search_tickets(self._ticket_search(wanted, caller), session=session)
            views = views_of(found, session=session)
        return [self._presenter.service_request(view, caller.client) for view in views]

    def _ticket_search(self, wanted: SearchFilter, caller: Caller) -> repository.TicketSearch:
        return repository.TicketSearch(
            start=wanted.start,
            end=wanted.end,
            communities=caller.communities,
            statuses=wanted.statuses,
            services=self._presenter.service_tags(wanted.service_codes) if wanted.service_codes else None,
            offset=(wanted.page - 1) * wanted.page_size,
            limit=wanted.page_size,
        )

    def _known_community(self, name: str) -> str:
        name = name.strip()
        if name not in self._config.served():
            raise Open311Error(400, [f"jurisdiction_id: unknown jurisdiction {name!r}; name one community served"])
        return name
