"""What the pages' endpoints use: the answerer, hot topics, meetings and Open311 over one catalog and one channel."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import grpc

from linli.catalog import Catalog
from linli.clients.calls import Metadata
from linli.clients.retrieval import RetrievalClient
from services.intake.answers.flows import Answerer
from services.intake.answers.precedents import RetrievalCaseSearch
from services.intake.database import Database
from services.intake.meetings.flows import MeetingFlows
from services.intake.open311.flows import Open311, Open311Config
from services.intake.settings import IntakeSettings
from services.intake.tickets.flows import TicketFlows
from services.intake.topics.flows import TopicFlows


@dataclass(frozen=True)
class FaceServices:
    """What the pages' endpoints use, built once from settings."""

    settings: IntakeSettings
    resident_login: str  # the verifier's name: how the H5 page gets a login code (wx.login, or `dev:<openid>`)
    catalog: Catalog
    answerer: Answerer
    topics: TopicFlows
    meetings: MeetingFlows
    open311: Open311
    # The communities a resident may pick: the organisation's table as the ticket flows read it.
    communities: Callable[[], frozenset[str]]

    def community_choices(self) -> list[str]:
        """The communities the H5 form offers: those of the setting in its order, then the ones admins added."""
        names = self.communities()
        configured = [name for name in self.settings.known_communities if name in names]
        return configured + sorted(names.difference(configured))


def build_face_services(
    flows: TicketFlows,
    database: Database,
    settings: IntakeSettings,
    *,
    resident_login: str,
    catalog: Catalog,
    retrieval_channel: grpc.Channel,
    retrieval_credentials: Callable[[], Metadata],
) -> FaceServices:
    """Wires the pages' services over the ticket flows, the catalog and a channel to retrieval (it connects on the
    first instant answer, not here); retrieval answers services only, so its calls carry `retrieval_credentials`."""
    client = RetrievalClient(
        retrieval_channel, timeout_seconds=settings.rpc_timeout_seconds, credentials=retrieval_credentials
    )
    search = RetrievalCaseSearch(client)
    # Every face checks communities against the organisation's table, as the ticket flows do (the setting seeds it).
    communities = flows.known_communities
    topics = TopicFlows(database, catalog, communities, meeting_min_residents=settings.meeting_min_residents)
    return FaceServices(
        settings=settings,
        resident_login=resident_login,
        catalog=catalog,
        answerer=Answerer(search, catalog, communities),
        topics=topics,
        meetings=MeetingFlows(database, topics, communities),
        open311=Open311(
            flows,
            database,
            catalog,
            Open311Config(
                dict(settings.open311_api_keys),
                communities,
                {client: frozenset(names) for client, names in settings.open311_client_communities.items()},
            ),
        ),
        communities=communities,
    )
