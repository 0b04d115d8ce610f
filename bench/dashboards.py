"""How long a dashboard takes on PostgreSQL: a month of a street (10 communities), of one community and of
everything, by week and by month, over `--tickets` tickets (default 1,000,000) spread over 200 communities and a
year. Prints only; the target is 500 ms for a street's month (docs/dashboards.md).

Run `python -m bench.dashboards [--tickets N]`: a fresh database on the machine's PostgreSQL (dropped afterwards),
migrated, filled by one INSERT … SELECT over generate_series, analysed, then each dashboard read five times.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, date, datetime

from sqlalchemy import text

from bench.reliability.stack import fresh_database
from linli.tokens import Role
from services.intake.auth import Worker
from services.intake.dashboards.flows import DashboardFlows
from services.intake.dashboards.models import PeriodKind
from services.intake.database import Database

COMMUNITIES = 200
YEAR_START = datetime(2026, 1, 1, tzinfo=UTC)

# Every NOT NULL column of tickets, the figures' columns varied by the row number.
FILL = """
INSERT INTO tickets (id, text, community, building, resident_id, status, party, confidence, attachment_urls, rating,
  resolution, created_at, updated_at, routed_party, catalog_entry, urgency, priority, escalation_level, sla_hours,
  assignee_worker_id, reporter_count, embedding_model, case_sync_pending, status_before_waiting, sla_paused_seconds,
  unread_resident_messages, reopen_count, transfer_count, accept_seconds, resolve_seconds, resolved_on_time)
SELECT md5(i::text), '楼道灯坏了', 'c' || (i % :communities), '', 'r-' || (i % 50000),
  (ARRAY['routed','accepted','resolved','closed','closed','reopened'])[1 + i % 6],
  (ARRAY['property_manager','owners_committee','street_office'])[1 + i % 3], 0.9, '[]', i % 6,
  '', :start + (i * :spread) * interval '1 second', :start, 'property_manager', '', 'normal', 1, 'community', 72,
  '', 1, '', false, '', 0, 0, (i % 17 = 0)::int, (i % 13 = 0)::int,
  CASE WHEN i % 6 = 0 THEN NULL ELSE (i::bigint * 7919) % 20000 END,
  CASE WHEN i % 6 IN (2, 3, 4) THEN (i::bigint * 104729) % 400000 END,
  CASE WHEN i % 6 IN (2, 3, 4) THEN i % 5 <> 0 END
FROM generate_series(1, :tickets) AS i
"""


def fill(database: Database, tickets: int) -> None:
    spread = (365 * 86400) // tickets
    with database.unit_of_work() as session:
        session.execute(
            text(FILL), {"communities": COMMUNITIES, "start": YEAR_START, "spread": spread, "tickets": tickets}
        )
    with database.unit_of_work() as session:
        session.execute(text("ANALYZE tickets"))


def timed(read: Callable[[], None], runs: int = 5) -> tuple[float, float]:
    """(median, worst) of `runs` calls, in milliseconds."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        read()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    tickets = parser.parse_args().tickets
    with fresh_database("postgres") as url:
        database = Database(url)
        database.upgrade_schema()
        started = time.perf_counter()
        fill(database, tickets)
        print(f"{tickets:,} tickets over {COMMUNITIES} communities in {time.perf_counter() - started:.1f} s")
        street = frozenset(f"c{n}" for n in range(10))
        flows = DashboardFlows(database, lambda code: street if code == "S1" else frozenset())
        admin = Worker("bench", "street_office", role=Role.ADMIN)
        cases = [
            ("street, one month by week", "street:S1", PeriodKind.WEEK, date(2026, 6, 1), date(2026, 6, 30)),
            ("street, one month", "street:S1", PeriodKind.MONTH, date(2026, 6, 1), date(2026, 6, 30)),
            ("street, a year by month", "street:S1", PeriodKind.MONTH, date(2026, 1, 1), date(2026, 12, 31)),
            ("community, one month", "community:c7", PeriodKind.MONTH, date(2026, 6, 1), date(2026, 6, 30)),
            ("all, one month", "all", PeriodKind.MONTH, date(2026, 6, 1), date(2026, 6, 30)),
        ]
        for name, scope, kind, first, last in cases:

            def read(scope: str = scope, kind: PeriodKind = kind, first: date = first, last: date = last) -> None:
                flows.dashboard(admin, scope, party="", kind=kind, first=first, last=last)

            median, worst = timed(read)
            print(f"{name:28} median {median:7.1f} ms   worst {worst:7.1f} ms")
        database.dispose()


if __name__ == "__main__":
    main()
