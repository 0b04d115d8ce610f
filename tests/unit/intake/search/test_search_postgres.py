"""Ticket search on PostgreSQL: the same answers as on SQLite through the HTTP app, and the plans use the trigram and
character-pair indexes (skipped when no PostgreSQL answers)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from services.intake.database import Database
from services.intake.residents.erasure import ErasureFlows
from services.intake.search.models import MatchTier
from services.intake.search.repository import tier_conditions
from services.intake.tickets.models import Ticket
from tests.tokens import as_resident, as_worker
from tests.unit.intake.fakes import Intake
from tests.unit.intake.search.conftest import client_over, search, ticket


@pytest.fixture
def pg_intake(postgres_url: str) -> Iterator[Intake]:
    database = Database(postgres_url)
    database.upgrade_schema()
    yield Intake(database)
    database.dispose()


@pytest.fixture
def pg_client(pg_intake: Intake) -> TestClient:
    return client_over(pg_intake)


def test_words_numbers_and_scope_answer_as_on_sqlite(pg_client: TestClient, pg_intake: Intake) -> None:
    leak = ticket(pg_client, pg_intake, "3号楼地下室漏水严重，墙面发霉", building="3号楼")
    other = ticket(pg_client, pg_intake, "地下室漏水", party="owners_committee")
    elsewhere = ticket(pg_client, pg_intake, "地下室漏水了", community="梅林小区")
    assert search(pg_client, "地下室") == [leak]
    assert search(pg_client, "漏水") == [leak]
    assert search(pg_client, "3号楼") == [leak]
    assert search(pg_client, leak[:8]) == [leak]
    assert search(pg_client, leak[:8], headers=as_worker("w-3", "owners_committee", "西渚社区")) == []
    assert search(pg_client, "漏水", headers=as_worker("w-9", "property_manager")) == [elsewhere, leak]
    assert other not in search(pg_client, "地下室", headers=as_worker("w-9", "property_manager"))
    assert pg_client.get("/v1/search/tickets", params={"q": "漏水"}, headers=as_resident("r-1")).status_code == 403


def test_resolutions_and_erasure_are_followed(pg_client: TestClient, pg_intake: Intake) -> None:
    ticket_id = ticket(pg_client, pg_intake, "电话13812345678，电梯坏了", resident="oWx-erase-me")
    pg_client.post(f"/v1/tickets/{ticket_id}/accept")
    pg_client.post(f"/v1/tickets/{ticket_id}/resolve", json={"resolution": "已更换曳引机"})
    assert search(pg_client, "曳引机") == [ticket_id]
    assert search(pg_client, "13812345678") == [ticket_id]
    ErasureFlows(pg_intake.context).erase_resident("oWx-erase-me", actor="operator:o-1")
    assert search(pg_client, "13812345678") == []


@pytest.mark.parametrize("q", ['""', "漏水*", "NEAR(漏水", "' OR 1=1 --", "%%", "__", "\\\\", "50%"])
def test_hostile_queries_match_nothing(pg_client: TestClient, pg_intake: Intake, q: str) -> None:
    ticket(pg_client, pg_intake, "3号楼地下室漏水严重")
    reply = pg_client.get("/v1/search/tickets", params={"q": q})
    assert reply.status_code == 200, reply.text
    assert reply.json()["results"] == []


@pytest.mark.parametrize(
    ("q", "tier", "index"),
    [
        ("地下室", MatchTier.TEXT, "ix_tickets_text_trgm"),
        ("漏水", MatchTier.TEXT, "ix_tickets_text_bigrams"),
        ("电梯", MatchTier.RESOLUTION, "ix_tickets_resolution_bigrams"),
        ("3号楼", MatchTier.BUILDING, "ix_tickets_building_trgm"),
        ("3ba84aed", MatchTier.TICKET_NUMBER, "pk_tickets"),
    ],
)
def test_the_plans_use_the_search_indexes(pg_intake: Intake, q: str, tier: MatchTier, index: str) -> None:
    with pg_intake.database.engine.begin() as connection:
        # Too few rows for the planner to prefer an index on its own: what is checked is that it can use one.
        connection.execute(text("SET LOCAL enable_seqscan = off"))
        condition = dict(tier_conditions(q, "postgresql"))[tier]
        statement = select(Ticket.id).where(condition)
        compiled = statement.compile(connection, compile_kwargs={"literal_binds": True})
        plan = "\n".join(row[0] for row in connection.execute(text(f"EXPLAIN {compiled}")))
    assert index in plan, plan
