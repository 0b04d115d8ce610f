"""The faces people touch: the resident H5 page, the worker console, Open311, and the endpoints behind them.

Everything is served by intake itself (no CDN, no build step): Jinja2 page shells, small vanilla JS and CSS under
/static/, instant answers, hot topics, and Open311 GeoReport v2 under /open311/v2/.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from linli.catalog import Catalog, load_catalog
from linli.clients.retrieval import RetrievalClient
from linli.grpc_auth import ServiceCredentials
from linli.grpc_tls import open_channel
from linli.settings import AuthSettings, IntakeSettings
from services.intake.answers import Answerer, RetrievalCaseSearch
from services.intake.database import Database
from services.intake.meetings.flows import MeetingFlows
from services.intake.open311 import Open311, Open311Config, open311_routes
from services.intake.tickets.flows import TicketFlows
from services.intake.topics import TopicFlows
from services.intake.web.routes import api_routes, page_routes

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
TEMPLATES_DIR = WEB_DIR / "templates"
# Who intake's service tokens name, in retrieval's logs.
INTAKE_CALLER_NAME = "intake"


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


class Faces:
    """Builds FaceServices on first use: reading settings, the catalog and opening a channel wait for a request."""

    def __init__(self, flows: TicketFlows, database: Database, settings: IntakeSettings | None = None) -> None:
        self._flows = flows
        self._database = database
        self._settings = settings
        self._built: FaceServices | None = None
        self._lock = threading.Lock()

    def __call__(self) -> FaceServices:
        with self._lock:
            if self._built is None:
                self._built = self._build()
            return self._built

    def _build(self) -> FaceServices:
        # Without settings handed over, the process's environment holds them, as for the intake's own main().
        settings = self._settings or IntakeSettings()
        catalog = load_catalog()
        channel = open_channel(settings.retrieval_target)
        # Retrieval answers services only: intake signs its own service tokens for the answers' case search.
        credentials = ServiceCredentials.from_settings(INTAKE_CALLER_NAME)
        client = RetrievalClient(
            channel, timeout_seconds=settings.rpc_timeout_seconds, credentials=credentials.metadata
        )
        search = RetrievalCaseSearch(client)
        topics = TopicFlows(
            self._database, catalog, settings.known_communities, meeting_min_residents=settings.meeting_min_residents
        )
        return FaceServices(
            settings=settings,
            resident_login=AuthSettings().resident_verifier,
            catalog=catalog,
            answerer=Answerer(search, catalog, settings.known_communities),
            topics=topics,
            meetings=MeetingFlows(self._database, topics, settings.known_communities),
            open311=Open311(
                self._flows,
                self._database,
                catalog,
                Open311Config(dict(settings.open311_api_keys), frozenset(settings.known_communities)),
            ),
        )


def mount_faces(app: FastAPI, flows: TicketFlows, database: Database, settings: IntakeSettings | None = None) -> Faces:
    """Adds the pages, their endpoints, Open311 and the static files to the intake's HTTP app; returns what they use
    (the meeting routes share its hot topics)."""
    faces = Faces(flows, database, settings)
    app.include_router(api_routes(faces))
    app.include_router(open311_routes(lambda: faces().open311))
    app.include_router(page_routes(faces, TEMPLATES_DIR))
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return faces
