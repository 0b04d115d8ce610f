"""Intake's HTTP app over a migrated SQLite ticket store with the organisation wired as create_server wires it: the
tables seeded from the settings, submissions checked against them, street workers resolved through them, and (when
asked) the workers' WeCom login."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi.testclient import TestClient

from linli.parties import DEFAULT_PARTIES, display_name
from services.intake.auth import Authenticator
from services.intake.auth.revocations import Revocations
from services.intake.auth.wecom import WecomLogin
from services.intake.database import Database
from services.intake.http_app import create_http_app
from services.intake.organisation.flows import OrganisationFlows
from services.intake.settings import DEFAULT_COMMUNITIES, IntakeSettings
from tests.unit.intake.fakes import Intake, face_services, http_security

DEFAULT_PARTY_NAMES = {party: display_name(party) for party in DEFAULT_PARTIES}


@dataclass
class OrgApp:
    """The running app, its ticket flows and its organisation."""

    client: TestClient
    intake: Intake
    organisation: OrganisationFlows


def migrated(folder: Path) -> Database:
    """A migrated SQLite ticket store in `folder`."""
    database = Database(f"sqlite:///{folder / 'tickets.sqlite'}")
    database.upgrade_schema()
    return database


@contextmanager
def org_app(
    database: Database, wecom: WecomLogin | None = None, settings: IntakeSettings | None = None
) -> Iterator[OrgApp]:
    """The app over `database` (already migrated), seeded with the default communities and parties; the pages'
    services (topics, meetings, Open311) over `settings` (default: the environment's)."""
    revocations = Revocations(database)
    organisation = OrganisationFlows(database, revocations=revocations)
    organisation.seed(DEFAULT_COMMUNITIES, DEFAULT_PARTY_NAMES)
    intake = Intake(database)
    intake.context.communities = organisation.directory.names
    base = http_security()
    authenticator = Authenticator(
        base.authenticator.codec, revocations, street_communities=organisation.directory.of_street
    )
    security = dataclasses.replace(base, authenticator=authenticator, wecom=wecom)
    ready = threading.Event()
    ready.set()
    app = create_http_app(
        intake.flows,
        security,
        database,
        ready,
        faces=face_services(intake.flows, database, settings),
        organisation=organisation,
    )
    try:
        yield OrgApp(TestClient(app), intake, organisation)
    finally:
        database.dispose()
