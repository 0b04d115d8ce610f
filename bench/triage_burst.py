"""A burst of 1,000 tickets over HTTP through the whole stack: submitted/s, triaged/s, submit→routed p50/p99, errors.

Run `python -m bench.triage_burst`. The stack runs as child processes, as in production (bench/reliability/stack.py):
`linli serve retrieval` (real m3e-small, fresh index seeded with the starter corpus), `linli serve routing`,
`linli serve intake` and `--workers` Celery workers, on the machine's Redis (database 14, emptied) and PostgreSQL (a
fresh database, dropped afterwards; SQLite with `--database sqlite`). Complaints are the resolved-case corpus's texts
in their own communities, shuffled with a fixed seed; the index never holds them, so every ticket is routed by its
neighbours. Times are the servers' own: a ticket's `created_at` and the time of its first triage event.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

from bench.reliability.ledger import Triage, triage_times, wait_triaged
from bench.reliability.residents import Receipt, Submission, Submitter
from bench.reliability.stack import StackConfig, fresh_database, progress, running_stack
from bench.reliability.workload import submissions
from services.intake.database import Database
from services.intake.settings import IntakeSettings

REDIS = "redis://127.0.0.1:6379/14"


def _say(message: str) -> None:
    progress("triage_burst", message)


def run(args: argparse.Namespace) -> int:
    """Starts the stack, runs the burst, prints the figures; returns 0 when every ticket was triaged."""
    folder = Path(tempfile.mkdtemp(prefix="linli-burst-"))  # kept when something fails: the logs are there
    config = StackConfig(
        workers=args.workers,
        worker_concurrency=args.worker_concurrency,
        embedding_backend="torch",
        beat=False,
        redis_url=REDIS,
    )
    _say(f"starting the stack (logs in {folder})")
    with fresh_database(args.database) as url, running_stack(config, folder, url) as stack:
        database = Database(stack.database_url)
        try:
            communities = list(IntakeSettings().known_communities)
            planned = submissions(communities, args.tickets + args.warmup, prefix="bench")
            _say(f"warming up with {args.warmup} tickets")
            warm = _submit(stack.addresses.http, planned[: args.warmup], min(args.concurrency, args.warmup))[0]
            wait_triaged(database, _ids(warm), timeout=args.timeout, check=stack.supervisor.check_alive, say=_say)

            _say(f"submitting {args.tickets} tickets, {args.concurrency} at a time")
            cpu_before = stack.supervisor.cpu_seconds()
            results, submit_seconds = _submit(stack.addresses.http, planned[args.warmup :], args.concurrency)
            ids = _ids(results)
            wait_triaged(database, ids, timeout=args.timeout, check=stack.supervisor.check_alive, say=_say)
            cpu_after = stack.supervisor.cpu_seconds()
            times = triage_times(database, ids)
        finally:
            database.dispose()
    _report(args, stack.database_url, results, submit_seconds, times)
    cpu = {name: used - cpu_before.get(name, 0.0) for name, used in cpu_after.items()}
    sys.stdout.write("CPU seconds      " + ", ".join(f"{name} {used:.1f}" for name, used in cpu.items()) + "\n")
    complete = all(t.decided_at is not None for t in times.values()) and len(ids) == args.tickets
    if complete:
        shutil.rmtree(folder, ignore_errors=True)
    return 0 if complete else 1


def _ids(receipts: list[Receipt]) -> list[str]:
    return [receipt.ticket_id for receipt in receipts if receipt.ticket_id]


def _submit(base_url: str, planned: list[Submission], concurrency: int) -> tuple[list[Receipt], float]:
    submitter = Submitter(base_url, concurrency=concurrency, give_up_after=0.0)
    started = time.perf_counter()
    try:
        return submitter.run(planned), time.perf_counter() - started
    finally:
        submitter.close()


def _report(
    args: argparse.Namespace,
    database_url: str,
    results: list[Receipt],
    submit_seconds: float,
    times: dict[str, Triage],
) -> None:
    errors = [r.error or ", ".join(r.failures) for r in results if r.error or r.failures]
    http = np.asarray([r.seconds for r in results]) * 1000
    created = [t.created_at for t in times.values()]
    done = [t for t in times.values() if t.decided_at is not None]
    latencies = np.asarray([(t.decided_at - t.created_at).total_seconds() for t in done if t.decided_at])
    latencies = latencies if len(latencies) else np.zeros(1)
    span = (max(t.decided_at for t in done if t.decided_at) - min(created)).total_seconds() if done else float("nan")
    outcomes = Counter(t.outcome for t in times.values())
    store = "PostgreSQL" if database_url.startswith("postgresql") else "SQLite"
    lines = [
        f"triage burst: {args.tickets} tickets over HTTP, {args.concurrency} concurrent; {args.workers} worker(s) x "
        f"{args.worker_concurrency} threads; {store} + Redis; index: starter corpus; {os.cpu_count()} CPUs",
        f"submitted/s      {len(results) / submit_seconds:8.1f}   ({len(results)} in {submit_seconds:.1f} s; HTTP "
        f"p50 {np.percentile(http, 50):.0f} ms, p99 {np.percentile(http, 99):.0f} ms)",
        f"routed/s         {len(done) / span:8.1f}   ({len(done)} triaged {span:.1f} s after the first submit: "
        f"routed {outcomes['routed']}, needs_manual {outcomes['needs_manual']}, merged as duplicates "
        f"{outcomes['merged']}, still received {outcomes['received']})",
        f"submit→routed    p50 {np.percentile(latencies, 50):.1f} s   p99 {np.percentile(latencies, 99):.1f} s",
        f"errors           {len(errors)}" + (f"   e.g. {errors[0]}" if errors else ""),
    ]
    sys.stdout.write("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    """Entry point: `python -m bench.triage_burst [--tickets N] [--concurrency C] [--workers W] ...`."""
    parser = argparse.ArgumentParser(prog="python -m bench.triage_burst", description=__doc__)
    parser.add_argument("--tickets", type=int, default=1000, help="tickets in the burst")
    parser.add_argument("--concurrency", type=int, default=16, help="HTTP submits in flight at once")
    parser.add_argument("--workers", type=int, default=1, help="Celery worker processes")
    parser.add_argument("--worker-concurrency", type=int, default=8, help="triage threads per worker")
    parser.add_argument("--warmup", type=int, default=8, help="tickets triaged before the burst, not counted")
    parser.add_argument("--database", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait for the last triage")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
