"""A year of a city district's tickets in PostgreSQL, for the console benchmarks (bench/console_queries.py).

`load_tickets` creates the schema with intake's own migrations, drops the tickets table's secondary indexes, COPYs
N synthetic tickets (texts and resolutions from the packaged corpus, with the building, community and a serial
number varied so no two texts are alike), recreates the indexes exactly as the migrations defined them and ANALYZEs.
The mix: 200 communities in 20 streets, three parties, tickets spread over the last 365 days, ~85 % resolved or
closed, the rest open in every open status, a third of the open ones assigned, deadlines from the SLA hours.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import psycopg
from psycopg.types.json import Json
from sqlalchemy import JSON, Column
from sqlalchemy.sql.schema import CallableColumnDefault, ScalarElementColumnDefault

from services.intake.database import Database
from services.intake.tickets.models import Ticket, TicketStatus

CORPUS = Path(__file__).resolve().parents[1] / "services" / "retrieval" / "corpus" / "resolved_cases.jsonl"
PARTIES = ("property_manager", "owners_committee", "street_office")
OPEN_MIX = (
    (TicketStatus.ROUTED, 0.35),
    (TicketStatus.ACCEPTED, 0.25),
    (TicketStatus.IN_PROGRESS, 0.15),
    (TicketStatus.NEEDS_MANUAL, 0.1),
    (TicketStatus.WAITING_RESIDENT, 0.1),
    (TicketStatus.REOPENED, 0.05),
)
OPEN_SHARE = 0.15
WORKERS_PER_PARTY_AND_COMMUNITY = 3


@dataclass(frozen=True)
class District:
    """The organisation the tickets live in: streets of communities."""

    streets: dict[str, list[str]]

    @classmethod
    def of(cls, communities: int, streets: int) -> District:
        names = [f"社区{number:03d}" for number in range(communities)]
        return cls({f"street-{s:02d}": names[s::streets] for s in range(streets)})

    @property
    def communities(self) -> list[str]:
        return [name for names in self.streets.values() for name in names]


def corpus_cases() -> list[tuple[str, str]]:
    """(complaint, resolution) pairs of the packaged corpus."""
    with CORPUS.open(encoding="utf-8") as lines:
        return [(row["complaint"], row["resolution"]) for row in map(json.loads, lines)]


def worker_id(party: str, community: str, number: int) -> str:
    """The id of one of the synthetic workers."""
    return f"{party}-{community}-{number}"


def _status(rng: random.Random) -> TicketStatus:
    if rng.random() >= OPEN_SHARE:
        return TicketStatus.CLOSED if rng.random() < 0.3 else TicketStatus.RESOLVED
    pick, total = rng.random(), 0.0
    for status, share in OPEN_MIX:
        total += share
        if pick < total:
            return status
    return TicketStatus.ROUTED


def _ticket_values(
    number: int, rng: random.Random, district: District, cases: list[tuple[str, str]], now: datetime
) -> dict[str, Any]:
    complaint, resolution = cases[rng.randrange(len(cases))]
    community = district.communities[rng.randrange(len(district.communities))]
    building = f"{rng.randint(1, 40)}号楼"
    status = _status(rng)
    party = "" if status is TicketStatus.NEEDS_MANUAL else rng.choice(PARTIES)
    created = now - timedelta(seconds=rng.uniform(0, 365 * 86400))
    sla_hours = rng.choice((4, 24, 72))
    accepted = created + timedelta(hours=rng.expovariate(1 / (sla_hours * 0.6)))
    finished = status in (TicketStatus.RESOLVED, TicketStatus.CLOSED)
    resolved = accepted + timedelta(hours=rng.expovariate(1 / (sla_hours * 1.5))) if finished else None
    opened_and_taken = status in (TicketStatus.ACCEPTED, TicketStatus.IN_PROGRESS, TicketStatus.WAITING_RESIDENT)
    assignee = ""
    if party and (finished or opened_and_taken or rng.random() < 0.33):
        assignee = worker_id(party, community, rng.randrange(WORKERS_PER_PARTY_AND_COMMUNITY))
    return {
        "id": f"{number:08x}{rng.getrandbits(96):024x}",
        "text": f"{community}{building}:{complaint}(第{number}号)",
        "community": community,
        "building": building,
        "resident_id": f"openid-{rng.getrandbits(48):012x}",
        "status": status.value,
        "party": party,
        "routed_party": party,
        "confidence": round(rng.uniform(0.4, 0.99), 3),
        "resolution": resolution if finished else "",
        "rating": rng.choice((0, 0, 5, 5, 5, 4, 4, 3, 2, 1)) if finished else 0,
        "created_at": created,
        "updated_at": resolved or accepted if status is not TicketStatus.ROUTED else created,
        "priority": rng.choice((1, 1, 1, 2, 3)),
        "sla_hours": sla_hours,
        "sla_due_at": created + timedelta(hours=sla_hours),
        "assignee_worker_id": assignee,
        "resolved_at": resolved,
        "accepted_at": accepted if (finished or opened_and_taken) else None,
    }


def _column_value(column: Column[Any], values: dict[str, Any]) -> Any:
    value = None
    if column.name in values:
        value = values[column.name]
    elif isinstance(column.default, ScalarElementColumnDefault):
        value = column.default.arg
    elif isinstance(column.default, CallableColumnDefault):
        value = column.default.arg(cast(Any, None))  # the defaults here (list, uuid) read no context
    return Json(value) if isinstance(column.type, JSON) and value is not None else value


def ticket_rows(
    count: int, district: District, *, seed: int = 7, now: datetime | None = None
) -> Iterator[tuple[Any, ...]]:
    """`count` ticket rows in the order of `Ticket.__table__.columns` (columns this bench does not know take their
    default)."""
    rng, cases, clock = random.Random(seed), corpus_cases(), now or datetime.now(UTC)
    columns = [column for column in Ticket.__table__.columns if isinstance(column, Column)]
    for number in range(count):
        values = _ticket_values(number, rng, district, cases, clock)
        yield tuple(_column_value(column, values) for column in columns)


def _psycopg_url(sqlalchemy_url: str) -> str:
    return sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://", 1)


def load_tickets(database_url: str, count: int, district: District, *, progress: bool = True) -> None:
    """The schema by intake's migrations, then `count` tickets COPYed in with the secondary indexes rebuilt after."""
    Database(database_url).upgrade_schema()
    columns = [column.name for column in Ticket.__table__.columns]
    with psycopg.connect(_psycopg_url(database_url), autocommit=True) as connection:
        indexes = connection.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'tickets' AND indexname <> 'tickets_pkey'"
            " AND indexdef NOT LIKE '%UNIQUE%'"
        ).fetchall()
        for name, _ in indexes:
            connection.execute(f'DROP INDEX "{name}"')
        with connection.cursor() as cursor, cursor.copy(f"COPY tickets ({', '.join(columns)}) FROM STDIN") as copy:
            for number, row in enumerate(ticket_rows(count, district)):
                copy.write_row(row)
                if progress and number and number % 200_000 == 0:
                    print(f"  {number:,} tickets written", flush=True)
        for name, definition in indexes:
            if progress:
                print(f"  index {name}", flush=True)
            connection.execute(definition)
        connection.execute("ANALYZE tickets")
