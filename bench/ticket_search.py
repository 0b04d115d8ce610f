"""Ticket search benchmark on PostgreSQL: p50/p99 of workers' searches over generated tickets.

Run `python -m bench.ticket_search --tickets 200000` (PostgreSQL from LINLI_TEST_POSTGRES_URL, default the local
`test` server; a scratch database is created and dropped). The tickets are spread over 200 communities and three
parties; their text is three of a few dozen complaint phrases, plus a building. The database is migrated to 0010,
filled by COPY, then migrated to head, so the search indexes are built in bulk, as on a deployment upgrading with
its tickets in place (that time is reported too). Each search runs through `SearchFlows.search`, as the HTTP route
calls it, for a worker of one community and for a worker of every community, with three-character and
two-character words, common and rare. The last line is the figures as one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from alembic import command
from sqlalchemy import inspect, text

from bench.reliability.stack import fresh_database
from linli.tokens import Role
from services.intake.auth.identity import Worker
from services.intake.database import Database, alembic_config
from services.intake.search.flows import SearchFlows
from services.intake.search.models import SearchRequest
from services.intake.tickets.models import Ticket

COMMUNITIES = 200
PARTIES = ("property_manager", "owners_committee", "street_office")
PHRASES = (
    "地下室漏水严重", "电梯经常停在半路", "楼道灯坏了很久", "垃圾桶满了没人清", "门口积水走不了路", "墙面发霉脱落",
    "楼上装修噪音太大", "小区门禁刷不开", "停车位被人占了", "绿化带有人种菜", "外墙瓷砖掉下来", "下水道堵塞反味",
    "快递柜坏了取不了件", "路灯不亮很危险", "楼下烧烤油烟大", "广场舞音响太吵", "水压太低洗不了澡", "暖气片不热",
    "窨井盖松动", "电动车在楼道充电", "消防通道被堵", "物业费收得不明白", "健身器材坏了", "宠物粪便没人管",
    "空调外机滴水", "屋顶漏雨", "监控摄像头坏了", "车库顶棚漏水", "化粪池满溢", "树枝挡住窗户",
)  # fmt: skip
RARE = "曳引机异响"  # in 0.1 % of the tickets
QUERIES = {
    "3char_common": "地下室",
    "3char_rare": "曳引机",
    "2char_common": "漏水",
    "2char_rare": "曳引",
}
RUNS = 60


def ticket_rows(count: int, seed: int = 7) -> Iterator[dict[str, Any]]:
    """Synthetic tickets, oldest first over the last year."""
    rng = random.Random(seed)
    start = datetime.now(UTC) - timedelta(days=365)
    step = timedelta(days=365) / max(count, 1)
    for n in range(count):
        phrases = rng.sample(PHRASES, 3)
        if rng.random() < 0.001:
            phrases[1] = RARE
        building = f"{rng.randint(1, 40)}号楼"
        created = start + step * n
        yield {
            "id": uuid.uuid4().hex,
            "text": f"{building}{'，'.join(phrases)}",
            "community": f"社区{n % COMMUNITIES:03d}",
            "building": building,
            "resident_id": f"r-{rng.randint(1, count // 3 + 1)}",
            "status": "routed",
            "party": PARTIES[rng.randrange(len(PARTIES))],
            "resolution": "已处理完毕" if rng.random() < 0.5 else "",
            "created_at": created,
            "updated_at": created,
        }


def _copy_value(column: Any, row: dict[str, Any]) -> Any:
    if column.name in row:
        return row[column.name]
    default = column.default
    if default is not None and default.is_scalar:
        value = default.arg
        return json.dumps(value) if isinstance(value, list | dict) else value
    if default is not None and default.is_callable and column.name == "attachment_urls":
        return "[]"
    return None


def fill(database: Database, count: int) -> float:
    """COPYs `count` tickets in (the columns the schema has so far: later migrations add more); returns the seconds
    it took."""
    present = {column["name"] for column in inspect(database.engine).get_columns("tickets")}
    columns = [column for column in Ticket.__table__.columns if column.name in present]
    names = ", ".join(c.name for c in columns)
    began = time.perf_counter()
    raw = database.engine.raw_connection()
    try:
        cursor = raw.cursor()
        with cursor.copy(f"COPY tickets ({names}) FROM STDIN") as copy:
            for row in ticket_rows(count):
                copy.write_row([_copy_value(c, row) for c in columns])
        raw.commit()
    finally:
        raw.close()
    return time.perf_counter() - began


def timed(flows: SearchFlows, worker: Worker, q: str, rng: random.Random, *, one_community: bool) -> list[float]:
    """Milliseconds of RUNS searches (first pages of 20); a community worker's community changes every run."""
    times = []
    for _ in range(RUNS):
        if one_community:
            worker = Worker(worker.worker_id, worker.party, f"社区{rng.randrange(COMMUNITIES):03d}", worker.role)
        began = time.perf_counter()
        flows.search(worker, SearchRequest(q, page_size=20))
        times.append((time.perf_counter() - began) * 1000)
    return times


def percentiles(times: Sequence[float]) -> dict[str, float]:
    """p50 and p99 in milliseconds, and the fastest run (what the plan costs when the shared CPU is free)."""
    ordered = sorted(times)
    return {
        "min_ms": round(ordered[0], 1),
        "p50_ms": round(statistics.median(ordered), 1),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 1),
    }


def run(count: int) -> dict[str, Any]:
    """Builds the database, measures, and returns the figures."""
    figures: dict[str, Any] = {"tickets": count, "communities": COMMUNITIES, "runs_per_case": RUNS}
    with fresh_database("postgres") as url:
        database = Database(url)
        with database.engine.begin() as connection:
            command.upgrade(alembic_config(connection), "0010")
        figures["copy_s"] = round(fill(database, count), 1)
        began = time.perf_counter()
        database.upgrade_schema()
        figures["search_migration_s"] = round(time.perf_counter() - began, 1)
        with database.engine.begin() as connection:
            connection.execute(text("ANALYZE tickets"))
            size = connection.execute(
                text("SELECT sum(pg_relation_size(indexrelid)) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                     "WHERE c.relname LIKE 'ix_tickets_%_trgm' OR c.relname LIKE 'ix_tickets_%_bigrams'")
            ).scalar_one()  # fmt: skip
            figures["search_index_mb"] = round(int(size) / 2**20, 1)
        flows = SearchFlows(database)
        rng = random.Random(11)
        cases: dict[str, Any] = {}
        for scope, one_community in (("community_worker", True), ("all_communities_worker", False)):
            worker = Worker("w-bench", "property_manager", "", Role.WORKER)
            for name, q in QUERIES.items():
                flows.search(worker, SearchRequest(q))  # warm
                times = timed(flows, worker, q, rng, one_community=one_community)
                cases[f"{scope}/{name}"] = percentiles(times)
                print(f"{scope:24} {name:14} q={q:5} {cases[f'{scope}/{name}']}", flush=True)
        figures["searches"] = cases
        # The machine is shared: its load says how much of the tail is waiting for a CPU.
        figures["load_average_1m"] = round(os.getloadavg()[0], 2)
        database.dispose()
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: prints one line per case, then the figures as JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.ticket_search", description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=200_000)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.tickets), ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
