"""A year of a city district's tickets in PostgreSQL, for the console benchmarks (bench/console_queries.py).

`load_tickets` creates the schema with intake's own migrations, fills the organisation tables (streets, their
communities, the workers), drops the tickets table's secondary indexes (the search's trigram and character-pair GIN
indexes of 0013 included), COPYs N synthetic tickets (texts and resolutions from the packaged corpus, with the
building, community and a serial number varied so no two texts are alike), recreates the indexes exactly as the
migrations defined them and ANALYZEs. The mix: 200 communities in 20 streets, three parties, tickets spread over the
last 365 days, ~85 % resolved or closed, the rest open in every open status, a third of the open ones assigned,
deadlines from the SLA hours (cleared on resolution, as the flows do), and the dashboards' columns of 0014 (response
and resolution seconds, on time, reopened, transferred) as the flows stamp them.
"""

from __future__ import annotations

import json
import random
import time
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
    status = _status(rng)
    party = "" if status is TicketStatus.NEEDS_MANUAL else rng.choice(PARTIES)
    created = now - timedelta(seconds=rng.uniform(0, 365 * 86400))
    sla_hours = rng.choice((4, 24, 72))
    finished = status in (TicketStatus.RESOLVED, TicketStatus.CLOSED)
    taken = finished or status in (TicketStatus.ACCEPTED, TicketStatus.IN_PROGRESS, TicketStatus.WAITING_RESIDENT)
    accept_seconds = int(rng.expovariate(1 / (sla_hours * 0.6 * 3600))) if taken else None
    # A reopened ticket was resolved once: its (latest) resolution time stays, as stamp_resolution left it.
    was_resolved = finished or status is TicketStatus.REOPENED
    resolve_seconds = (
        (accept_seconds or 0) + int(rng.expovariate(1 / (sla_hours * 1.5 * 3600))) if was_resolved else None
    )
    resolved = created + timedelta(seconds=resolve_seconds) if finished and resolve_seconds is not None else None
    assignee = ""
    if party and (taken or rng.random() < 0.33):
        assignee = worker_id(party, community, rng.randrange(WORKERS_PER_PARTY_AND_COMMUNITY))
    transferred = bool(party) and rng.random() < 0.08
    building = f"{rng.randint(1, 40)}号楼"
    return {
        "id": f"{number:08x}{rng.getrandbits(96):024x}",
        "text": f"{community}{building}:{complaint}(第{number}号)",
        "community": community,
        "building": building,
        "resident_id": f"openid-{rng.getrandbits(48):012x}",
        "status": status.value,
        "party": party,
        "routed_party": rng.choice([p for p in PARTIES if p != party]) if transferred else party,
        "confidence": round(rng.uniform(0.4, 0.99), 3),
        "resolution": resolution if finished else "",
        "rating": rng.choice((0, 0, 5, 5, 5, 4, 4, 3, 2, 1)) if finished else 0,
        "created_at": created,
        "updated_at": resolved or (created + timedelta(seconds=accept_seconds) if accept_seconds else created),
        "priority": rng.choice((1, 1, 1, 2, 3)),
        "sla_hours": sla_hours,
        # Resolving clears the deadline (tickets.models.stamp_resolution); open tickets keep theirs.
        "sla_due_at": None if finished else created + timedelta(hours=sla_hours),
        "assignee_worker_id": assignee,
        "resolved_at": resolved,
        # What the dashboards aggregate (migration 0014), as the flows stamp them.
        "accept_seconds": accept_seconds,
        "resolve_seconds": resolve_seconds,
        "resolved_on_time": resolve_seconds <= sla_hours * 3600 if resolve_seconds is not None else None,
        "reopen_count": 1 if status is TicketStatus.REOPENED or (finished and rng.random() < 0.04) else 0,
        "transfer_count": 1 if transferred else 0,
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
        if number == 0 and (unknown := set(values) - {column.name for column in columns}):
            raise ValueError(f"tickets has no columns {sorted(unknown)}: the bench's data is out of date")
        yield tuple(_column_value(column, values) for column in columns)


def _psycopg_url(sqlalchemy_url: str) -> str:
    return sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://", 1)


def load_organisation(connection: psycopg.Connection[Any], district: District) -> None:
    """The streets and their communities (a street worker's scope is read from them) and the synthetic workers."""
    with connection.cursor() as cursor:
        cursor.executemany("INSERT INTO streets (code, name) VALUES (%s, %s)", [(s, s) for s in district.streets])
        cursor.executemany(
            "INSERT INTO communities (name, street_code, active) VALUES (%s, %s, true)",
            [(c, s) for s, names in district.streets.items() for c in names],
        )
        cursor.executemany(
            "INSERT INTO workers (worker_id, display_name, party, community, street, role, active, created_at)"
            " VALUES (%s, %s, %s, %s, '', 'worker', true, now())",
            [
                (worker_id(p, c, n), worker_id(p, c, n), p, c)
                for c in district.communities
                for p in PARTIES
                for n in range(WORKERS_PER_PARTY_AND_COMMUNITY)
            ],
        )


def load_tickets(database_url: str, count: int, district: District, *, progress: bool = True) -> None:
    """The schema by intake's migrations, the organisation, then `count` tickets COPYed in with the secondary indexes
    rebuilt after."""
    Database(database_url).upgrade_schema()
    columns = [column.name for column in Ticket.__table__.columns]
    with psycopg.connect(_psycopg_url(database_url), autocommit=True) as connection:
        load_organisation(connection, district)
        # Every secondary index of tickets, the search's GIN ones (0013) included, is rebuilt once after the COPY.
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
        # The GIN (trigram, character-pair) builds sort in memory: the default 64 MB spills them to disk.
        connection.execute("SET maintenance_work_mem = '1GB'")
        for name, definition in indexes:
            started = time.perf_counter()
            connection.execute(definition)
            if progress:
                print(f"  index {name}: {time.perf_counter() - started:.0f} s", flush=True)
        connection.execute("ANALYZE tickets")
