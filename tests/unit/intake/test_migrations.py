"""Alembic migrations: they build exactly the models' schema, upgrade a foundation database, and go down and up."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import JSON, Float, ForeignKey, Integer, MetaData, String, Table, Text, select

from linli.sql_types import UtcDateTime
from services.intake.database import Database, alembic_config, head_revision
from services.intake.meetings.models import MeetingItem, MeetingStatus
from services.intake.schema import METADATA, declared_by_models
from services.intake.tickets.models import Ticket, TicketEvent

# Provides the `ticket_database` fixture (SQLite and PostgreSQL).
pytest_plugins = ["tests.unit.intake.database"]


def test_the_migrations_build_what_the_models_describe(ticket_database: Database) -> None:
    with ticket_database.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_name": declared_by_models}
        )
        assert compare_metadata(context, METADATA) == []
    assert ticket_database.current_revision() == head_revision()


def test_upgrading_is_idempotent(ticket_database: Database) -> None:
    assert ticket_database.upgrade_schema() == head_revision()
    assert ticket_database.upgrade_schema() == head_revision()


def foundation_schema() -> MetaData:
    """The tables as the foundation release created them with create_all, before migrations existed."""
    metadata = MetaData()
    Table(
        "tickets",
        metadata,
        sa.Column("id", String(32), primary_key=True),
        sa.Column("text", Text, nullable=False),
        sa.Column("community", String(128), index=True, nullable=False),
        sa.Column("building", String(64), nullable=False),
        sa.Column("resident_id", String(128), index=True, nullable=False),
        sa.Column("status", String(16), index=True, nullable=False),
        sa.Column("party", String(64), index=True, nullable=False),
        sa.Column("confidence", Float, nullable=False),
        sa.Column("routing", JSON, nullable=True),
        sa.Column("attachment_urls", JSON, nullable=False),
        sa.Column("rating", Integer, nullable=False),
        sa.Column("resolution", Text, nullable=False),
        sa.Column("idempotency_key", String(128), unique=True, nullable=True),
        sa.Column("created_at", UtcDateTime, index=True, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )
    Table(
        "ticket_events",
        metadata,
        sa.Column("id", Integer, primary_key=True, autoincrement=True),
        sa.Column("ticket_id", ForeignKey("tickets.id", ondelete="CASCADE"), index=True, nullable=False),
        sa.Column("kind", String(32), nullable=False),
        sa.Column("actor", String(160), nullable=False),
        sa.Column("note", Text, nullable=False),
        sa.Column("from_party", String(64), nullable=False),
        sa.Column("to_party", String(64), nullable=False),
        sa.Column("at", UtcDateTime, nullable=False),
    )
    return metadata


def test_a_foundation_database_is_migrated_with_its_tickets(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path}/foundation.sqlite")
    legacy = foundation_schema()
    legacy.create_all(database.engine)
    now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    with database.engine.begin() as connection:
        connection.execute(
            legacy.tables["tickets"].insert(),
            {
                "id": "t1",
                "text": "楼道灯坏了",
                "community": "恒康居民区",
                "building": "",
                "resident_id": "r-1",
                "status": "routed",
                "party": "property_manager",
                "confidence": 0.9,
                "routing": None,
                "attachment_urls": [],
                "rating": 0,
                "resolution": "",
                "idempotency_key": None,
                "created_at": now,
                "updated_at": now,
            },
        )
        connection.execute(
            legacy.tables["ticket_events"].insert(),
            {"ticket_id": "t1", "kind": "received", "actor": "resident:r-1", "note": "", "from_party": "",
             "to_party": "", "at": now},
        )  # fmt: skip
    assert database.upgrade_schema() == head_revision()
    with database.unit_of_work() as session:
        ticket = session.scalars(select(Ticket)).one()
        assert (ticket.id, ticket.reporter_count, ticket.escalation_level, ticket.priority) == ("t1", 1, "community", 1)
        assert [event.kind for event in session.scalars(select(TicketEvent))] == ["received"]
    database.dispose()


def test_the_lifecycle_migration_goes_down_and_up(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path}/roundtrip.sqlite")
    database.upgrade_schema()
    with database.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0001")
        assert "routing_corrections" not in sa.inspect(connection).get_table_names()
    assert database.upgrade_schema() == head_revision()
    database.dispose()


def test_the_revocations_migration_goes_down_and_up(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path}/revocations.sqlite")
    database.upgrade_schema()
    with database.engine.begin() as connection:
        assert "revoked_subjects" in sa.inspect(connection).get_table_names()
        command.downgrade(alembic_config(connection), "0002")
        tables = sa.inspect(connection).get_table_names()
        assert "revoked_subjects" not in tables
        assert "routing_corrections" in tables  # only this revision's table goes
    assert database.upgrade_schema() == head_revision()
    database.dispose()


def test_the_location_migration_goes_down_and_up_keeping_the_tickets(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path}/location.sqlite")
    database.upgrade_schema()
    now = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
    with database.unit_of_work() as session:
        session.add(
            Ticket(
                id="t1", text="路灯不亮", community="恒康居民区", resident_id="r-1", latitude=31.2304,
                longitude=121.4737, created_at=now, updated_at=now,
            )
        )  # fmt: skip
    with database.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0003")
        columns = {column["name"] for column in sa.inspect(connection).get_columns("tickets")}
        assert {"latitude", "longitude"}.isdisjoint(columns)
        assert "revoked_subjects" in sa.inspect(connection).get_table_names()  # only this revision's columns go
    assert database.upgrade_schema() == head_revision()
    with database.unit_of_work() as session:
        ticket = session.scalars(select(Ticket)).one()
        # The row survives both ways; its point was dropped with the columns and comes back empty.
        assert (ticket.id, ticket.latitude, ticket.longitude) == ("t1", None, None)
    database.dispose()


def test_the_split_migration_goes_down_and_up_keeping_the_tickets(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path}/split.sqlite")
    database.upgrade_schema()
    now = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
    with database.unit_of_work() as session:
        session.add(Ticket(id="t1", text="楼道灯坏了,门口消防通道被占", community="恒康居民区", resident_id="r-1",
                           created_at=now, updated_at=now))  # fmt: skip
        session.flush()
        session.add(Ticket(id="t2", text="门口消防通道被占", community="恒康居民区", resident_id="r-1",
                           split_from_id="t1", created_at=now, updated_at=now))  # fmt: skip
    with database.engine.begin() as connection:
        inspector = sa.inspect(connection)
        assert "ix_tickets_split_from_id" in {index["name"] for index in inspector.get_indexes("tickets")}
        assert ["split_from_id"] in [key["constrained_columns"] for key in inspector.get_foreign_keys("tickets")]
        command.downgrade(alembic_config(connection), "0004")
        columns = {column["name"] for column in sa.inspect(connection).get_columns("tickets")}
        assert "split_from_id" not in columns
        assert {"latitude", "longitude"} <= columns  # only this revision's column goes
    assert database.upgrade_schema() == head_revision()
    with database.unit_of_work() as session:
        # Both tickets survive both ways; the link was dropped with its column and comes back empty.
        assert [(t.id, t.split_from_id) for t in session.scalars(select(Ticket).order_by(Ticket.id))] == [
            ("t1", None),
            ("t2", None),
        ]
    database.dispose()


def test_the_meeting_migration_goes_down_and_up_and_keeps_one_open_item_per_topic(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path}/meetings.sqlite")
    database.upgrade_schema()
    now = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)

    def item(item_id: str, status: MeetingStatus) -> MeetingItem:
        return MeetingItem(id=item_id, community="恒康居民区", topic_key="parking", title="停车", status=status.value,
                           week="2026-W49", residents=5, reports=6, proposed_by="worker:w-2", proposed_at=now,
                           updated_at=now)  # fmt: skip

    with database.unit_of_work() as session:
        session.add_all([item("m1", MeetingStatus.DECIDED), item("m2", MeetingStatus.DROPPED)])
        session.add(item("m3", MeetingStatus.PROPOSED))
    with pytest.raises(sa.exc.IntegrityError), database.unit_of_work() as session:
        session.add(item("m4", MeetingStatus.SCHEDULED))  # a second open item of the same topic
    with database.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0005")
        assert "meeting_items" not in sa.inspect(connection).get_table_names()
        assert "split_from_id" in {column["name"] for column in sa.inspect(connection).get_columns("tickets")}
    assert database.upgrade_schema() == head_revision()
    with database.unit_of_work() as session:
        assert session.scalars(select(MeetingItem)).all() == []
    database.dispose()
