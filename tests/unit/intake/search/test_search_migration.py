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
from services.intake.tickets.models import Ticket

PM = Worker("w-7", "property_manager", "西渚社区", Role.WORKER)


def found(database: Database, q: str) -> list[str]:
    hits, _ = SearchFlows(database).search(PM, SearchRequest(q))
    return [hit.view.ticket.id for hit in hits]


def test_tickets_stored_before_the_migration_are_found_and_it_goes_down_and_up(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'tickets.sqlite'}")
    with database.engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0010")
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    with database.unit_of_work() as session:
        session.add(
            Ticket(id="a" * 32, text="地下室漏水", community="西渚社区", resident_id="r-1", status="routed",
                   party="property_manager", building="2号楼", created_at=now, updated_at=now)
        )  # fmt: skip
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
