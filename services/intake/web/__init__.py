"""The faces people touch: the resident H5 page, the worker console, Open311, and the endpoints behind them.

Everything is served by intake itself (no CDN, no build step): Jinja2 page shells, small vanilla JS and CSS under
/static/, instant answers, hot topics, and Open311 GeoReport v2 under /open311/v2/.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from services.intake.answers.http import answer_routes
from services.intake.open311.http import open311_routes
from services.intake.organisation.http import community_choice_routes
from services.intake.topics.http import topic_routes
from services.intake.web.faces import FaceServices
from services.intake.web.routes import page_routes

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
TEMPLATES_DIR = WEB_DIR / "templates"


def mount_faces(app: FastAPI, faces: FaceServices) -> None:
    """Adds the pages, their endpoints, Open311 and the static files to the intake's HTTP app."""
    app.include_router(answer_routes(lambda: faces.answerer))
    app.include_router(topic_routes(lambda: faces.topics))
    app.include_router(open311_routes(lambda: faces.open311))
    app.include_router(community_choice_routes(lambda: faces.community_choices()))
    app.include_router(page_routes(lambda: faces, TEMPLATES_DIR))
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
