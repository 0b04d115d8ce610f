"""Catalog entries as GeoReport services and service definitions, tickets as GeoReport service requests.

A request's service is the `【name】` tag opening its text when it was filed under a service, else the catalog entry
routing chose (the SQL search applies the same rule). Another client's or a resident's request is shown without
its photos and with its point rounded to about 100 m: enough to place it on a map, not to find a door.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import datetime
from typing import Any

from linli.catalog import Catalog, CatalogEntry
from linli.errors import LinliError
from linli.parties import display_name
from linli.pii import scrub
from services.intake.open311.repository import ServiceTags
from services.intake.tickets.models import Ticket, TicketStatus
from services.intake.tickets.views import TicketView
from services.intake.topics.week import CHINA_TIME

CLOSED_STATUSES = frozenset({TicketStatus.RESOLVED, TicketStatus.CLOSED})
SHARED_POINT_DECIMALS = 3  # ~110 m of latitude
# A request filed under a chosen service keeps it as a 【name】 tag opening the ticket text: workers read it, routing
# hears it, and reading the request back recovers the service without a column of its own.
_SERVICE_TAG = re.compile(r"^【([^【】]{1,64})】")


def service_tag(entry: CatalogEntry) -> str:
    """The tag opening the text of a request filed under `entry`."""
    return f"【{entry.name}】"


class Presenter:
    """The GeoReport shapes of the catalog and of tickets."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog
        self._by_name = {entry.name: entry for entry in catalog.entries}

    def service(self, entry: CatalogEntry) -> dict[str, Any]:
        """One catalog entry as a GeoReport service; its definition has the community attribute (metadata)."""
        return {
            "service_code": entry.id,
            "service_name": entry.name,
            "description": entry.description,
            "metadata": True,
            "type": "realtime",
            "keywords": ",".join(entry.keywords),
            "group": self.party_name(entry.party),
        }

    def service_definition(self, entry: CatalogEntry, communities: Collection[str]) -> dict[str, Any]:
        """The spec's service definition: the community (required unless the jurisdiction has only one, or the
        address names it) and the building."""
        community_values = [{"key": name, "name": name} for name in sorted(communities)]
        return {
            "service_code": entry.id,
            "attributes": [
                {
                    "variable": True,
                    "code": "community",
                    "datatype": "singlevaluelist",
                    "required": len(communities) != 1,
                    "datatype_description": "所在社区(居民区)名称",
                    "order": 1,
                    "description": "问题所在的社区。只服务一个社区的 api_key 可不填;address_string 写明社区名也可。",
                    "values": community_values,
                },
                {
                    "variable": True,
                    "code": "building",
                    "datatype": "string",
                    "required": False,
                    "datatype_description": "楼号,例如 3号楼",
                    "order": 2,
                    "description": "问题所在的楼栋(可不填)。",
                    "values": [],
                },
            ],
        }

    def service_tags(self, codes: Collection[str]) -> ServiceTags:
        """What the SQL search needs to find the requests of the services `codes`."""
        wanted = [entry for entry in self._catalog.entries if entry.id in codes]
        return ServiceTags(
            wanted_tags=tuple(service_tag(entry) for entry in wanted),
            every_tag=tuple(service_tag(entry) for entry in self._catalog.entries),
            codes=frozenset(codes),
        )

    def service_request(self, view: TicketView, client: str) -> dict[str, Any]:
        """One ticket in the spec's fields; personal data in the text is scrubbed, and a request `client` did not
        file is shown with a rounded point and no photo."""
        ticket = view.ticket
        entry = self.entry_of(ticket)
        tagged = _SERVICE_TAG.match(ticket.text)
        description = ticket.text[tagged.end() :] if tagged and entry and tagged[1] == entry.name else ticket.text
        own = _filed_by(ticket, client)
        return {
            "service_request_id": ticket.id,
            "status": _open_or_closed(view),
            "status_notes": self._status_notes(view),
            "service_name": entry.name if entry else "",
            "service_code": entry.id if entry else "",
            "description": scrub(description.strip()),
            "agency_responsible": self.party_name(ticket.party) if ticket.party else "",
            "service_notice": view.duplicate_notice,
            "requested_datetime": iso(ticket.created_at),
            "updated_datetime": iso(ticket.updated_at),
            "expected_datetime": iso(ticket.sla_due_at) if ticket.sla_due_at else None,
            "address": f"{ticket.community}{ticket.building}",
            "address_id": None,
            "zipcode": None,
            "lat": _shared(ticket.latitude, own),
            "long": _shared(ticket.longitude, own),
            "media_url": ticket.attachment_urls[0] if own and ticket.attachment_urls else None,
        }

    def entry_of(self, ticket: Ticket) -> CatalogEntry | None:
        """The ticket's service: its tag, else routing's catalog entry, else none."""
        tagged = _SERVICE_TAG.match(ticket.text)
        if tagged and tagged[1] in self._by_name:
            return self._by_name[tagged[1]]
        try:
            return self._catalog.get(ticket.catalog_entry)
        except LinliError:
            return None

    def _status_notes(self, view: TicketView) -> str:
        ticket = view.ticket
        party = self.party_name(ticket.party) if ticket.party else "负责方"
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

    def party_name(self, party: str) -> str:
        """The party's name as the catalog gives it."""
        info = self._catalog.parties.get(party)
        return info.name if info is not None else display_name(party)


def _filed_by(ticket: Ticket, client: str) -> bool:
    return ticket.resident_id == f"open311:{client}" or ticket.resident_id.startswith(f"open311:{client}:")


def _shared(degrees: float | None, own: bool) -> float | None:
    return degrees if own or degrees is None else round(degrees, SHARED_POINT_DECIMALS)


def _open_or_closed(view: TicketView) -> str:
    # A merged ticket is answered when the one it joined is.
    status = view.primary_status if view.ticket.status == TicketStatus.MERGED.value else view.ticket.status
    return "closed" if status is not None and TicketStatus(status) in CLOSED_STATUSES else "open"


def iso(moment: datetime) -> str:
    """W3C date-time with the offset, as the spec's examples: 2026-11-23T10:00:00+08:00."""
    return moment.astimezone(CHINA_TIME).isoformat(timespec="seconds")
