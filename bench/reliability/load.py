"""Sustained load: a steady stream of tickets over HTTP for minutes; submitted/s, routed/s, latency, errors, memory.

Run `python -m bench.reliability.load --minutes 5 --rate 22`. The stack (bench/reliability/stack.py) runs on a fresh
PostgreSQL database with its own Redis; residents submit at `--rate` tickets per second, open loop (a slow server
does not slow the arrivals), each retrying with its Idempotency-Key on connection errors and 5xx. Every 30 s the
harness samples the backlog (tickets still `received`): a rate the stack holds keeps it flat. At the end it waits
for the backlog to drain, audits every ticket (none lost or duplicated) and prints the figures, then one JSON line.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.reliability.figures import (
    error_counts,
    latency_seconds,
    load_average,
    memory_mib,
    write_json_line,
    write_lines,
)
from bench.reliability.ledger import audit, backlog, triage_times, wait_triaged
from bench.reliability.residents import Receipt, Submitter
from bench.reliability.stack import (
    SHIPPED_WORKER_CONCURRENCY,
    Stack,
    StackConfig,
    fresh_database,
    progress,
    running_stack,
)
from bench.reliability.workload import submissions
from services.intake.database import Database
from services.intake.settings import IntakeSettings
from services.retrieval.settings import RetrievalSettings

SAMPLE_SECONDS = 30.0
WARMUP_TICKETS = 16


def _say(message: str) -> None:
    progress("load", message)


@dataclass
class Sampler:
    """Samples the backlog every SAMPLE_SECONDS on a thread of its own, until stopped."""

    database: Database
    samples: list[tuple[float, int]] = field(default_factory=list)  # (seconds since the start, backlog)
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        started = time.monotonic()
        while not self._stop.wait(SAMPLE_SECONDS):
            waiting = backlog(self.database)
            self.samples.append((round(time.monotonic() - started), waiting))
            _say(f"{self.samples[-1][0]:4d} s: {waiting} tickets waiting for triage")

    def stop(self) -> None:
        self._stop.set()


@dataclass
class Stream:
    """What the timed stream saw: the receipts, its span, the backlog samples, memory and load at both ends."""

    receipts: list[Receipt]
    started_at: datetime
    ended_at: datetime
    samples: list[tuple[float, int]]
    memory: tuple[dict[str, int], dict[str, int]]
    load: tuple[list[float], list[float]]

    @property
    def seconds(self) -> float:
        return (self.ended_at - self.started_at).total_seconds()


def _stream(stack: Stack, database: Database, args: argparse.Namespace) -> Stream:
    """Warms up, then submits at `args.rate` for `args.minutes`, sampling the backlog."""
    count = round(args.rate * args.minutes * 60)
    planned = submissions(list(IntakeSettings().known_communities), WARMUP_TICKETS + count, prefix="load")
    submitter = Submitter(stack.addresses.http, concurrency=args.concurrency)
    try:
        _say(f"warming up with {WARMUP_TICKETS} tickets")
        warm = submitter.run(planned[:WARMUP_TICKETS])
        wait_triaged(database, _ids(warm), timeout=300, check=stack.supervisor.check_alive, say=_say)
        memory_at_start, load_at_start = stack.supervisor.rss_bytes(), load_average()
        sampler = Sampler(database)
        threading.Thread(target=sampler.run, daemon=True).start()
        _say(f"submitting {count} tickets at {args.rate}/s for {args.minutes} min")
        started_at = datetime.now(UTC)
        receipts = submitter.run(planned[WARMUP_TICKETS:], rate=args.rate)
        ended_at = datetime.now(UTC)
        sampler.stop()
    finally:
        submitter.close()
    memory = (memory_at_start, stack.supervisor.rss_bytes())
    return Stream(receipts, started_at, ended_at, sampler.samples, memory, (load_at_start, load_average()))


def _figures(stack: Stack, database: Database, stream: Stream, args: argparse.Namespace) -> dict[str, Any]:
    """Drains the backlog, audits every ticket and returns the run's figures."""
    waiting_at_end = backlog(database)
    _say(f"stream done; {waiting_at_end} tickets still waiting, draining")
    ids = _ids(stream.receipts)
    drain_started = time.monotonic()
    drained = wait_triaged(database, ids, timeout=args.drain_timeout, check=stack.supervisor.check_alive, say=_say)
    drain_seconds = round(time.monotonic() - drain_started, 1) if drained else None
    times = triage_times(database, ids)
    window = [t for t in times.values() if t.decided_at and stream.started_at <= t.decided_at <= stream.ended_at]
    checked = audit(database, stream.receipts)
    return {
        "scenario": "load",
        "minutes": args.minutes,
        "target_rate": args.rate,
        "tickets": len(stream.receipts),
        "submitted_per_s": round(checked.accepted / stream.seconds, 2),
        "routed_per_s": round(len(window) / stream.seconds, 2),
        "submit_to_routed_s": latency_seconds(times.values()),
        "http_submit_ms": _http_percentiles(stream.receipts),
        "errors": error_counts(stream.receipts),
        "backlog_samples": stream.samples,
        "backlog_at_end": waiting_at_end,
        "drain_s": drain_seconds,
        "rss_mib_start": memory_mib(stream.memory[0]),
        "rss_mib_end": memory_mib(stream.memory[1]),
        "load_average_start": stream.load[0],
        "load_average_end": stream.load[1],
        **checked.figures(),
    }


def _ids(receipts: list[Receipt]) -> list[str]:
    return [receipt.ticket_id for receipt in receipts if receipt.ticket_id]


def _http_percentiles(receipts: list[Receipt]) -> dict[str, float]:
    seconds = sorted(receipt.seconds for receipt in receipts if receipt.ticket_id)
    if not seconds:
        return {}
    return {"p50": round(seconds[len(seconds) // 2] * 1000), "p99": round(seconds[int(len(seconds) * 0.99)] * 1000)}


def run(args: argparse.Namespace) -> int:
    """Starts the stack, streams the tickets, prints the figures; 0 when nothing was lost, duplicated or left."""
    folder = Path(tempfile.mkdtemp(prefix="linli-load-"))
    config = StackConfig(
        workers=args.workers,
        worker_concurrency=args.worker_concurrency,
        embedding_backend=args.embedding_backend,
    )
    _say(f"starting the stack (logs in {folder})")
    with fresh_database() as database_url, running_stack(config, folder, database_url) as stack:
        database = Database(stack.database_url)
        try:
            figures = _figures(stack, database, _stream(stack, database, args), args)
        finally:
            database.dispose()
    figures.update(workers=args.workers, worker_concurrency=args.worker_concurrency, backend=args.embedding_backend)
    _print(figures)
    clean = not (figures["lost"] or figures["duplicated"] or figures["untriaged"] or figures["double_decisions"])
    return 0 if clean else 1


def _print(f: dict[str, Any]) -> None:
    latency, http = f["submit_to_routed_s"], f["http_submit_ms"]
    write_lines(
        [
            f"load: {f['tickets']} tickets over {f['minutes']} min at {f['target_rate']}/s; {f['workers']} worker(s) "
            f"x {f['worker_concurrency']} threads; {f['backend']} embeddings",
            f"submitted/s      {f['submitted_per_s']:8.2f}   (HTTP p50 {http.get('p50')} ms, p99 {http.get('p99')} ms)",
            f"routed/s         {f['routed_per_s']:8.2f}   (backlog at the end {f['backlog_at_end']}, drained in "
            f"{f['drain_s']} s; outcomes {f['outcomes']})",
            f"submit→routed    p50 {latency['p50']} s   p99 {latency['p99']} s   max {latency['max']} s",
            f"errors           {f['errors'] or 0}",
            f"lost/duplicated  {f['lost']} / {f['duplicated']}   (double decisions {f['double_decisions']}, double "
            f"transitions {f['double_transitions']})",
            f"backlog samples  {f['backlog_samples']}",
            f"RSS MiB start    {f['rss_mib_start']}",
            f"RSS MiB end      {f['rss_mib_end']}",
            f"load average     {f['load_average_start']} → {f['load_average_end']}",
        ]
    )
    write_json_line(f)


def main(argv: list[str] | None = None) -> int:
    """Entry point: `python -m bench.reliability.load [--minutes M] [--rate R] ...`."""
    parser = argparse.ArgumentParser(prog="python -m bench.reliability.load", description=__doc__)
    parser.add_argument("--minutes", type=float, default=5.0, help="how long the stream runs")
    parser.add_argument("--rate", type=float, default=22.0, help="tickets submitted per second")
    parser.add_argument("--concurrency", type=int, default=32, help="most submits in flight at once")
    parser.add_argument("--workers", type=int, default=1, help="Celery worker processes")
    parser.add_argument(
        "--worker-concurrency",
        type=int,
        default=SHIPPED_WORKER_CONCURRENCY,
        help="triage threads per worker (default: as shipped)",
    )
    parser.add_argument(
        "--embedding-backend",
        choices=("torch", "onnx-int8"),
        default=RetrievalSettings().embedding_backend,
        help="retrieval's backend; default: the configured one",
    )
    parser.add_argument("--drain-timeout", type=float, default=600.0, help="seconds to wait for the backlog to clear")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
