"""The console at a district's volume: inbox pages, ticket search and a street's dashboard over HTTP, on PostgreSQL.

Run `python -m bench.console_queries` (defaults: 1,000,000 tickets over 200 communities in 20 streets). A fresh
PostgreSQL database is filled by bench/console_data.py (intake's own migrations and indexes), then `linli serve
intake` runs as a child process on it, as in production, and the bench calls its HTTP API as workers do: a community
worker, a street office worker (ten communities) and a dispatcher. Each figure is the client-side latency of whole
HTTP requests (uvicorn, auth, the query, the JSON), `--repeats` of each, after one warm-up round; the CPU seconds the
intake process spent per request are printed beside them, and the slowest request of each. Every answer must be a
200 with results (a timed 404 or empty page would measure nothing). `--keep-database NAME` keeps the loaded database
to measure again without loading (about 11 minutes at 1,000,000 tickets, most of it the GIN index builds). The last
stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx
import numpy as np
from sqlalchemy import create_engine, make_url, text

from bench.console_data import PARTIES, District, load_tickets, worker_id
from bench.reliability.stack import BENCH_REDIS, HIGH_RATE_LIMIT, POSTGRES, free_port, fresh_database, progress
from linli.tokens import Role, TokenCodec, TokenKind
from services.intake.settings import RateLimitSettings

TARGETS_MS = {"inbox_p99_ms": 50.0, "search_p99_ms": 200.0, "dashboard_month_street_ms": 500.0}
# Two-character words (the character-pair index), three and more (trigrams), rare and common ones, and a building.
SEARCH_WORDS = ("漏水", "电梯", "停车位", "楼道灯", "物业费", "充电桩", "12号楼")
READY_SECONDS = 120.0


@dataclass(frozen=True)
class Caller:
    """One worker the bench acts as, with a bearer token."""

    name: str
    headers: dict[str, str]


def _say(message: str) -> None:
    progress("console_queries", message)


def _callers(codec: TokenCodec, district: District) -> list[Caller]:
    street, communities = next(iter(district.streets.items()))

    def token(subject: str, party: str, role: Role, **scope: str) -> dict[str, str]:
        signed, _ = codec.issue(TokenKind.WORKER, subject, ttl=timedelta(hours=2), party=party, role=role, **scope)
        return {"Authorization": f"Bearer {signed}"}

    community = communities[0]
    return [
        Caller("community", token(worker_id(PARTIES[0], community, 0), PARTIES[0], Role.WORKER, community=community)),
        Caller("street", token(f"street-worker-{street}", "street_office", Role.WORKER, street=street)),
        Caller("dispatcher", token(f"dispatcher-{community}", PARTIES[0], Role.DISPATCHER, community=community)),
    ]


@contextmanager
def running_intake(database_url: str, secret: str) -> Iterator[tuple[str, int]]:
    """`linli serve intake` on `database_url`; yields its base URL and pid once /readyz answers."""
    port, grpc_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_")}
    env.update(
        HF_HUB_OFFLINE="1",
        LINLI_LOG_LEVEL="WARNING",
        LINLI_AUTH_SECRETS=secret,
        LINLI_AUTH_RESIDENT_VERIFIER="dev",
        LINLI_INTAKE_DATABASE_URL=database_url,
        LINLI_INTAKE_HTTP_PORT=str(port),
        LINLI_INTAKE_GRPC_PORT=str(grpc_port),
        LINLI_INTAKE_BROKER_URL=BENCH_REDIS,
    )
    # One client address sends what a district's workers would: limits this high never bite.
    env.update(
        {
            f"LINLI_RATE_{n.upper()}": str(HIGH_RATE_LIMIT)
            for n in RateLimitSettings.model_fields
            if n.endswith("_per_minute")
        }
    )
    process = subprocess.Popen([sys.executable, "-m", "services.cli", "serve", "intake"], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            raise RuntimeError("intake did not become ready")
        yield base, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Request:
    """One GET the bench times, and the list in its JSON answer that must not be empty (a timed 404 or empty page
    would measure nothing)."""

    path: str
    headers: dict[str, str]
    params: dict[str, str | int]
    results_key: str
    caller: str
    # A count each result must have above zero (a dashboard's periods always exist, received may be 0).
    positive: str = ""

    def send(self, client: httpx.Client) -> httpx.Response:
        """The request, on `client`."""
        return client.get(self.path, params=self.params, headers=self.headers)

    def check(self, response: httpx.Response) -> None:
        """Raises unless `response` is a 200 with results."""
        if response.status_code != 200:
            raise RuntimeError(f"{self.path} {self.params}: {response.status_code} {response.text[:300]}")
        results = response.json()[self.results_key]
        if not results or (self.positive and not all(result[self.positive] > 0 for result in results)):
            raise RuntimeError(f"{self.path} {self.params}: no {self.results_key} {self.positive}")


def _timed(client: httpx.Client, pid: int, requests: Sequence[Request], repeats: int) -> dict[str, float | str]:
    """p50/p99 ms of `repeats` rounds over `requests`, after one warm-up round; the server's CPU-ms per request."""
    for request in requests:
        request.check(request.send(client))
    cpu_before = _cpu_seconds(pid)
    times, responses = [], []
    for _ in range(repeats):
        for request in requests:
            started = time.perf_counter()
            response = request.send(client)
            times.append((time.perf_counter() - started) * 1000)
            responses.append((request, response))
    cpu = _cpu_seconds(pid) - cpu_before
    for request, response in responses:
        request.check(response)
    slowest = responses[int(np.argmax(times))][0]
    return {
        "p50_ms": round(float(np.percentile(times, 50)), 2),
        "p99_ms": round(float(np.percentile(times, 99)), 2),
        "max_ms": round(max(times), 2),
        "server_cpu_ms_per_request": round(cpu * 1000 / len(times), 2),
        "requests": len(times),
        "slowest": f"{slowest.path}?{urlencode(slowest.params)} ({slowest.caller})",
    }


def _inbox_requests(callers: list[Caller]) -> list[Request]:
    sets = (("all_open", "deadline"), ("overdue", "deadline"), ("unassigned", "priority"), ("all_open", "newest"))
    return [
        Request("/v1/inbox", caller.headers, {"set": inbox_set, "sort": sort, "page_size": 20}, "tickets", caller.name)
        for caller in callers
        for inbox_set, sort in sets
    ]


def _search_requests(callers: list[Caller]) -> list[Request]:
    return [
        Request("/v1/search/tickets", c.headers, {"q": word, "page_size": 20}, "results", c.name)
        for c in callers
        for word in SEARCH_WORDS
    ]


def _dashboard_requests(caller: Caller, street: str) -> list[Request]:
    """Last calendar month of one street, by month (one period)."""
    today = datetime.now(UTC).date()
    month_end = today.replace(day=1) - timedelta(days=1)
    params: dict[str, str | int] = {
        "scope": f"street:{street}",
        "period": "month",
        "from": month_end.replace(day=1).isoformat(),
        "to": month_end.isoformat(),
    }
    return [Request("/v1/dashboards", caller.headers, params, "periods", caller.name, positive="received")]


def measure(base: str, pid: int, callers: list[Caller], street: str, repeats: int) -> dict[str, dict[str, float | str]]:
    """The three figures of the issue, each over HTTP."""
    with httpx.Client(base_url=base, timeout=60) as client:
        return {
            "inbox": _timed(client, pid, _inbox_requests(callers), repeats),
            "search": _timed(client, pid, _search_requests(callers), repeats),
            "dashboard_month_street": _timed(client, pid, _dashboard_requests(callers[1], street), repeats * 3),
        }


@contextmanager
def _database(name: str) -> Iterator[tuple[str, bool]]:
    """A database URL and whether it holds tickets already: `name` kept (for repeated measurements), else a fresh
    one dropped after."""
    if not name:
        with fresh_database("postgres") as url:
            yield url, False
        return
    url = make_url(POSTGRES).set(database=name).render_as_string(hide_password=False)
    admin = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if not exists:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    engine = create_engine(url)
    with engine.connect() as connection:
        loaded = bool(connection.scalar(text("SELECT to_regclass('tickets') IS NOT NULL")))
        loaded = loaded and bool(connection.scalar(text("SELECT EXISTS (SELECT 1 FROM tickets)")))
    engine.dispose()
    yield url, loaded


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--communities", type=int, default=200)
    parser.add_argument("--streets", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument(
        "--keep-database",
        default="",
        metavar="NAME",
        help="Load into this PostgreSQL database and keep it; a later run with the same name and sizes measures "
        "again without loading.",
    )
    args = parser.parse_args(argv)
    district = District.of(args.communities, args.streets)
    secret = secrets.token_hex(32)
    random.seed(11)
    load_seconds = None
    with _database(args.keep_database) as (database_url, loaded):
        if not loaded:
            _say(f"loading {args.tickets:,} tickets over {args.communities} communities")
            started = time.perf_counter()
            load_tickets(database_url, args.tickets, district)
            load_seconds = round(time.perf_counter() - started)
            _say(f"loaded in {load_seconds} s")
        with running_intake(database_url, secret) as (base, pid):
            street = next(iter(district.streets))
            load_before = [round(x, 2) for x in os.getloadavg()]
            figures = measure(base, pid, _callers(TokenCodec([secret.encode()]), district), street, args.repeats)
    summary = {
        "tickets": args.tickets,
        "communities": args.communities,
        "inbox_p99_ms": figures["inbox"]["p99_ms"],
        "search_p99_ms": figures["search"]["p99_ms"],
        "dashboard_month_street_ms": figures["dashboard_month_street"]["p99_ms"],
        "load_seconds": load_seconds,
        "load_average_before": load_before,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "detail": figures,
    }
    for name, target in TARGETS_MS.items():
        print(f"{name}: {summary[name]} ms (target <= {target:g})", file=sys.stderr)
    print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
