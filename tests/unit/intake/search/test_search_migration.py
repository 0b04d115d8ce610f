"""Migration 0013 indexes the tickets already stored, and goes down and up again (SQLite)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from alembic import command

from linli.tokens import Role
from services.intake.auth.identity import Worker
from services.intake.database import Database, alembic_config
from services.intake.search.flows import SearchFlows
from services.intake.search.models import SearchRequest

PM = Worker("w-7", "property_manager", "西渚社区", Role.WORKER)


def found(database: Database, q: str) -> list[str]:
    hits, _ = SearchFlows(database).search(PM, SearchRequest(q))
    return [hit.view.ticket.id for hit in hits]


def test_tickets_stored_before_the_migration_are_found_and_it_goes_down_and_up(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'tickets.sqlite'}")
    with database.engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0010")
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC).isoformat(sep=" ")
    with database.engine.begin() as connection:
        # A row as the schema of 0010 stores it: later migrations add columns the model already has.
        connection.execute(
            sa.text(
                "INSERT INTO tickets (id, text, community, building, resident_id, status, party, confidence,"
                " attachment_urls, rating, resolution, created_at, updated_at, routed_party, catalog_entry, urgency,"
                " priority, escalation_level, sla_hours, assignee_worker_id, reporter_count, embedding_model,"
                " case_sync_pending, status_before_waiting, sla_paused_seconds, unread_resident_messages)"
                " VALUES (:id, '地下室漏水', '西渚社区', '2号楼', 'r-1', 'routed', 'property_manager', 0, '[]', 0, '',"
                " :now, :now, '', '', 'normal', 1, 'community', 0, '', 1, '', 0, '', 0, 0)"
            ),
            {"id": "a" * 32, "now": now},
        )
    database.upgrade_schema()
    assert found(database, "地下室") == ["a" * 32]
    assert found(database, "aaaaaaaa") == ["a" * 32]
    with database.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0010")
        assert "ticket_search" not in sa.inspect(connection).get_table_names()
    database.upgrade_schema()
    assert found(database, "漏水") == ["a" * 32]
    assert found(database, "2号楼") == ["a" * 32]
    database.dispose()
