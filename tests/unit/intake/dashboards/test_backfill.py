"""Migration 0014 fills the dashboard's columns of older tickets from their history, on SQLite and PostgreSQL, and
goes down and up."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from sqlalchemy import select

from services.intake.database import Database, alembic_config, head_revision
from services.intake.tickets.models import Ticket
from tests.unit.intake.dashboards.timeline import HOUR, MINUTE, NOW, T0, StillClock, Timeline
from tests.unit.intake.fakes import OWNERS, PROPERTY, Intake

pytest_plugins = ["tests.unit.intake.database"]

COLUMNS = ("accept_seconds", "resolve_seconds", "resolved_on_time", "reopen_count", "transfer_count")


def test_older_tickets_get_their_figures_from_their_events(ticket_database: Database) -> None:
    intake = Intake(ticket_database, clock=StillClock(NOW))
    line = Timeline(intake)
    handled, untouched = line.routed(T0), line.routed(T0)
    line.transferred(handled, 10 * MINUTE)
    line.transferred(handled, 20 * MINUTE, by=OWNERS, to=PROPERTY)  # handed back
    line.accepted(handled, 45 * MINUTE)
    line.resolved(handled, 2 * HOUR)
    line.reopened(handled, 3 * HOUR)
    line.accepted(handled, 4 * HOUR)
    line.resolved(handled, 5 * HOUR + 30 * MINUTE)
    with ticket_database.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0010")
        columns = {column["name"] for column in sa.inspect(connection).get_columns("tickets")}
        assert columns.isdisjoint(COLUMNS)
    assert ticket_database.upgrade_schema() == head_revision()
    with ticket_database.unit_of_work() as session:
        tickets = {t.id: t for t in session.scalars(select(Ticket))}
        figures = {ticket_id: tuple(getattr(t, c) for c in COLUMNS) for ticket_id, t in tickets.items()}
    # First acceptance at 45 min; latest resolution at 5.5 h; the deadline of old resolutions is in no record.
    assert figures[handled] == (2700, 19800, None, 1, 2)
    assert figures[untouched] == (None, None, None, 0, 0)
