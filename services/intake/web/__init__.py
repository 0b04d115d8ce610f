"""The faces people touch: the resident H5 page, the worker console, Open311, and the endpoints behind them.

Everything is served by intake itself (no CDN, no build step): Jinja2 page shells, small vanilla JS and CSS under
/static/, instant answers, hot topics, and Open311 GeoReport v2 under /open311/v2/.
"""

from __future__ import annotations

import threading
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from linli.catalog import load_catalog
from linli.clients.retrieval import RetrievalClient
from linli.grpc_tls import open_channel
from linli.settings import AuthSettings
from services.intake.answers.flows import Answerer
from services.intake.answers.http import answer_routes
from services.intake.answers.precedents import RetrievalCaseSearch
from services.intake.database import Database
from services.intake.meetings.flows import MeetingFlows
from services.intake.open311.flows import Open311, Open311Config
from services.intake.open311.http import open311_routes
from services.intake.settings import IntakeSettings
from services.intake.tickets.flows import TicketFlows
from services.intake.topics.flows import TopicFlows
from services.intake.topics.http import topic_routes
from services.intake.web.faces import FaceServices
from services.intake.web.routes import page_routes

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
TEMPLATES_DIR = WEB_DIR / "templates"


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
        search = RetrievalCaseSearch(RetrievalClient(channel, timeout_seconds=settings.rpc_timeout_seconds))
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
    app.include_router(answer_routes(lambda: faces().answerer))
    app.include_router(topic_routes(lambda: faces().topics))
    app.include_router(open311_routes(lambda: faces().open311))
    app.include_router(page_routes(faces, TEMPLATES_DIR))
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return faces
