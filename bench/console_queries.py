"""The console at a district's volume: inbox pages, ticket search and a street's dashboard over HTTP, on PostgreSQL.

Run `python -m bench.console_queries` (defaults: 1,000,000 tickets over 200 communities in 20 streets). A fresh
PostgreSQL database is filled by bench/console_data.py (intake's own migrations and indexes), then `linli serve
intake` runs as a child process on it, as in production, and the bench calls its HTTP API as workers do: a community
worker, a street office worker (ten communities) and a dispatcher. Each figure is the client-side latency of whole
HTTP requests (uvicorn, auth, the query, the JSON), `--repeats` of each, after one warm-up round; the CPU seconds the
intake process spent per request are printed beside them. The last stdout line is one JSON object.
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
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np

from bench.console_data import PARTIES, District, load_tickets, worker_id
from bench.reliability.stack import HIGH_RATE_LIMIT, free_port, fresh_database, progress
from linli.tokens import Role, TokenCodec, TokenKind
from services.intake.settings import RateLimitSettings

TARGETS_MS = {"inbox_p99_ms": 50.0, "search_p99_ms": 200.0, "dashboard_month_street_ms": 500.0}
SEARCH_WORDS = ("漏水", "电梯", "停车位", "楼道灯", "物业费", "噪音扰民", "充电桩")
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
        LINLI_INTAKE_BROKER_URL="redis://127.0.0.1:6379/12",
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


def _timed(
    client: httpx.Client, pid: int, requests: Sequence[Callable[[httpx.Client], httpx.Response]], repeats: int
) -> dict[str, float]:
    """p50/p99 ms of `repeats` rounds over `requests`, after one warm-up round; the server's CPU-ms per request."""
    for request in requests:
        request(client).raise_for_status()
    cpu_before = _cpu_seconds(pid)
    times = []
    for _ in range(repeats):
        for request in requests:
            started = time.perf_counter()
            request(client).raise_for_status()
            times.append((time.perf_counter() - started) * 1000)
    cpu = _cpu_seconds(pid) - cpu_before
    return {
        "p50_ms": round(float(np.percentile(times, 50)), 2),
        "p99_ms": round(float(np.percentile(times, 99)), 2),
        "max_ms": round(max(times), 2),
        "server_cpu_ms_per_request": round(cpu * 1000 / len(times), 2),
        "requests": len(times),
    }


def _get(path: str, headers: dict[str, str], **params: str | int) -> Callable[[httpx.Client], httpx.Response]:
    return lambda client: client.get(path, params=params, headers=headers)


def _inbox_requests(callers: list[Caller]) -> list[Callable[[httpx.Client], httpx.Response]]:
    requests = []
    for caller in callers:
        for inbox_set, sort in (("all_open", "deadline"), ("overdue", "deadline"), ("unassigned", "priority")):
            requests.append(_get("/v1/inbox", caller.headers, set=inbox_set, sort=sort, page_size=20))
    return requests


def _search_requests(callers: list[Caller]) -> list[Callable[[httpx.Client], httpx.Response]]:
    return [_get("/v1/tickets/search", c.headers, q=word, page_size=20) for c in callers for word in SEARCH_WORDS]


def _dashboard_requests(caller: Caller, street: str) -> list[Callable[[httpx.Client], httpx.Response]]:
    today = datetime.now(UTC).date()
    month_start = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    month_end = today.replace(day=1) - timedelta(days=1)
    return [
        _get(
            "/v1/dashboards",
            caller.headers,
            scope=f"street:{street}",
            period="month",
            **{"from": month_start.isoformat(), "to": month_end.isoformat()},
        )
    ]


def measure(base: str, pid: int, callers: list[Caller], street: str, repeats: int) -> dict[str, dict[str, float]]:
    """The three figures of the issue, each over HTTP."""
    with httpx.Client(base_url=base, timeout=60) as client:
        return {
            "inbox": _timed(client, pid, _inbox_requests(callers), repeats),
            "search": _timed(client, pid, _search_requests(callers), repeats),
            "dashboard_month_street": _timed(client, pid, _dashboard_requests(callers[1], street), repeats * 3),
        }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--communities", type=int, default=200)
    parser.add_argument("--streets", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args(argv)
    district = District.of(args.communities, args.streets)
    secret = secrets.token_hex(32)
    random.seed(11)
    with fresh_database("postgres") as database_url:
        _say(f"loading {args.tickets:,} tickets over {args.communities} communities")
        started = time.perf_counter()
        load_tickets(database_url, args.tickets, district)
        _say(f"loaded in {time.perf_counter() - started:.0f} s")
        with running_intake(database_url, secret) as (base, pid):
            street = next(iter(district.streets))
            figures = measure(base, pid, _callers(TokenCodec([secret.encode()]), district), street, args.repeats)
    summary = {
        "tickets": args.tickets,
        "communities": args.communities,
        "inbox_p99_ms": figures["inbox"]["p99_ms"],
        "search_p99_ms": figures["search"]["p99_ms"],
        "dashboard_month_street_ms": figures["dashboard_month_street"]["p99_ms"],
        "load_average": [round(x, 2) for x in os.getloadavg()[:2]],
        "detail": figures,
    }
    for name, target in TARGETS_MS.items():
        print(f"{name}: {summary[name]} ms (target <= {target:g})", file=sys.stderr)
    print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
