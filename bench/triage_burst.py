"""A burst of tickets over HTTP through the whole stack: submitted/s, triaged/s, submit→routed p50/p99, CPU per ticket.

Run `python -m bench.triage_burst`. The stack runs as child processes, as in production (bench/reliability/stack.py):
`linli serve retrieval` (real m3e-small, fresh index seeded with the starter corpus), `linli serve routing`,
`linli serve intake` and `--workers` Celery workers, on the machine's Redis (database 1, emptied; `--redis-url own`
starts one of the stack's own) and PostgreSQL (a fresh database, dropped afterwards; SQLite with `--database sqlite`).
Complaints are the resolved-case corpus's texts in their own communities, shuffled with a fixed seed; the index never
holds them, so every ticket is routed by its neighbours. Times are the servers' own: a ticket's `created_at` and the
time of its first triage event.

The embedding backend is the configured default (`LINLI_RETRIEVAL_EMBEDDING_BACKEND`, else the settings' default);
`--backend torch onnx-int8` and `--shared-embedding both` run one fresh stack per combination, one after the other,
and print them side by side (`off` makes routing embed each text again: LINLI_INTAKE_TRIAGE_SHARES_EMBEDDING=false).
`--cases 0 100000` does the same for index sizes: 0 is the packaged corpus retrieval seeds itself, a number fills the
case store first with the packaged cases and synthetic variations of them (bench/synthetic_cases.py), from which
retrieval builds its index at start (HNSW from 20,000 cases on; allow `--ready-timeout` for the build).

`--rate 50 --duration 60` offers a steady rate instead of a burst: 3,000 submissions, each due at t0 + i/rate, sent by
a pool of senders (bench/triage_rate.py); it prints the achieved offered rate and submit→routed max as well. Both
modes print what was lost (accepted, never triaged) and duplicated (triaged more than once; see
bench/reliability/ledger.py).
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.reliability.ledger import Audit, Triage, audit, triage_times, wait_triaged
from bench.reliability.processes import Supervisor
from bench.reliability.residents import Receipt, Submission, Submitter
from bench.reliability.stack import (
    BENCH_REDIS,
    READY_SECONDS,
    SHIPPED_WORKER_CONCURRENCY,
    StackConfig,
    fresh_database,
    progress,
    running_stack,
)
from bench.reliability.workload import submissions
from bench.synthetic_cases import fill_case_store
from bench.triage_rate import MIN_SENDERS, delivery_line, machine_busy_seconds, offered_rate, submit_at_rate
from linli.heap import freeze_startup_objects
from services.intake.database import Database
from services.intake.settings import IntakeSettings
from services.retrieval.settings import RetrievalSettings

BACKENDS = ("onnx-int8", "torch")


@dataclass(frozen=True)
class Variant:
    """One stack configuration of the comparison."""

    backend: str
    shared_embedding: bool
    cases: int = 0  # 0: the packaged corpus the service seeds; else a store of this many (bench/synthetic_cases.py)

    @property
    def label(self) -> str:
        index = f"{self.cases:,} cases" if self.cases else "packaged corpus"
        return f"{self.backend}, shared embedding {'on' if self.shared_embedding else 'off'}, index {index}"


@dataclass
class Figures:
    """What one burst measured."""

    variant: Variant
    routed_per_second: float = float("nan")
    p50_seconds: float = float("nan")
    p99_seconds: float = float("nan")
    max_seconds: float = float("nan")
    offered_per_second: float = float("nan")
    lost: int = 0
    duplicated: int = 0
    cpu_ms_per_ticket: dict[str, float] = field(default_factory=dict)
    load_average: tuple[float, float] = (float("nan"), float("nan"))
    complete: bool = False


def _say(message: str) -> None:
    progress("triage_burst", message)


def run_variant(args: argparse.Namespace, variant: Variant) -> Figures:
    """Starts a fresh stack for `variant`, runs the burst, prints its figures."""
    folder = Path(tempfile.mkdtemp(prefix="linli-burst-"))  # kept when something fails: the logs are there
    config = StackConfig(
        workers=args.workers,
        worker_concurrency=args.worker_concurrency,
        embedding_backend=variant.backend,
        beat=False,
        redis_url=None if args.redis_url == "own" else args.redis_url,
        settings={"LINLI_INTAKE_TRIAGE_SHARES_EMBEDDING": str(variant.shared_embedding).lower()},
    )
    communities = list(IntakeSettings().known_communities)
    if variant.cases:
        _say(f"{variant.label}: writing {variant.cases:,} cases into the case store")
        fill_case_store(folder / "index", variant.cases, backend=variant.backend, communities=communities)
    _say(f"{variant.label}: starting the stack (logs in {folder})")
    load_before = os.getloadavg()[0]
    with (
        fresh_database(args.database) as url,
        running_stack(config, folder, url, ready_seconds=args.ready_timeout) as stack,
    ):
        database = Database(stack.database_url)
        try:
            planned = submissions(communities, args.tickets + args.warmup, prefix="bench")
            _say(f"warming up with {args.warmup} tickets")
            warm = _submit(stack.addresses.http, planned[: args.warmup], min(args.concurrency, args.warmup))[0]
            wait_triaged(database, _ids(warm), timeout=args.timeout, check=stack.supervisor.check_alive, say=_say)

            # The case filling left this process full of objects: the client's collections need not walk them.
            freeze_startup_objects()
            cpu_before = _cpu_seconds(stack.supervisor)
            results, submit_seconds = _submit_measured(args, stack.addresses.http, planned[args.warmup :])
            ids = _ids(results)
            wait_triaged(database, ids, timeout=args.timeout, check=stack.supervisor.check_alive, say=_say)
            cpu_after = _cpu_seconds(stack.supervisor)
            times = triage_times(database, ids)
            checked = audit(database, results)
        finally:
            database.dispose()
    figures = _report(args, variant, stack.database_url, results, submit_seconds, times)
    _report_delivery(args, figures, results, checked)
    cpu = {name: used - cpu_before.get(name, 0.0) for name, used in cpu_after.items()}
    figures.cpu_ms_per_ticket = {name: 1000 * used / max(len(ids), 1) for name, used in cpu.items()}
    figures.load_average = (load_before, os.getloadavg()[0])
    sys.stdout.write(
        "CPU-ms/ticket    "
        + ", ".join(f"{name} {ms:.1f}" for name, ms in figures.cpu_ms_per_ticket.items())
        + f"\nload average     {figures.load_average[0]:.1f} before, {figures.load_average[1]:.1f} after "
        f"({os.cpu_count()} CPUs)\n\n"
    )
    figures.complete = (
        all(t.decided_at is not None for t in times.values()) and len(ids) == args.tickets and checked.clean
    )
    if figures.complete:
        shutil.rmtree(folder, ignore_errors=True)
    return figures


def _cpu_seconds(supervisor: Supervisor) -> dict[str, float]:
    """CPU seconds so far of each role, of this process (the client: submitting and polling) and of the machine."""
    return {**supervisor.cpu_seconds(), "client": time.process_time(), "machine (all)": machine_busy_seconds()}


def _ids(receipts: list[Receipt]) -> list[str]:
    return [receipt.ticket_id for receipt in receipts if receipt.ticket_id]


def _submit_measured(args: argparse.Namespace, base_url: str, planned: list[Submission]) -> tuple[list[Receipt], float]:
    """The measured submissions: all at once, `--concurrency` in flight, or at the steady `--rate`."""
    if args.rate is None:
        _say(f"submitting {args.tickets} tickets, {args.concurrency} at a time")
        return _submit(base_url, planned, args.concurrency)
    _say(f"submitting {args.tickets} tickets at {args.rate:g}/s for {args.duration:g} s")
    submitter = Submitter(base_url, concurrency=max(args.concurrency, MIN_SENDERS), give_up_after=0.0)
    started = time.perf_counter()
    try:
        return submit_at_rate(submitter, planned, args.rate), time.perf_counter() - started
    finally:
        submitter.close()


def _report_delivery(args: argparse.Namespace, figures: Figures, results: list[Receipt], checked: Audit) -> None:
    figures.lost, figures.duplicated = len(checked.never_triaged), len(checked.triaged_twice)
    lines = [f"delivery         {delivery_line(checked)}"]
    if args.rate is not None:
        figures.offered_per_second = offered_rate(results)
        lines.insert(
            0, f"offered/s        {figures.offered_per_second:8.1f}   (asked {args.rate:g}/s for {args.duration:g} s)"
        )
    sys.stdout.write("\n".join(lines) + "\n")


def _submit(base_url: str, planned: list[Submission], concurrency: int) -> tuple[list[Receipt], float]:
    submitter = Submitter(base_url, concurrency=concurrency, give_up_after=0.0)
    started = time.perf_counter()
    try:
        return submitter.run(planned), time.perf_counter() - started
    finally:
        submitter.close()


def _report(
    args: argparse.Namespace,
    variant: Variant,
    database_url: str,
    results: list[Receipt],
    submit_seconds: float,
    times: dict[str, Triage],
) -> Figures:
    errors = [r.error or ", ".join(r.failures) for r in results if r.error or r.failures]
    http = np.asarray([r.seconds for r in results]) * 1000
    created = [t.created_at for t in times.values()]
    done = [t for t in times.values() if t.decided_at is not None]
    latencies = np.asarray([(t.decided_at - t.created_at).total_seconds() for t in done if t.decided_at])
    latencies = latencies if len(latencies) else np.zeros(1)
    span = (max(t.decided_at for t in done if t.decided_at) - min(created)).total_seconds() if done else float("nan")
    outcomes = Counter(t.outcome for t in times.values())
    store = "PostgreSQL" if database_url.startswith("postgresql") else "SQLite"
    figures = Figures(
        variant,
        len(done) / span,
        float(np.percentile(latencies, 50)),
        float(np.percentile(latencies, 99)),
        float(latencies.max()),
    )
    offered = f"at {args.rate:g}/s" if args.rate is not None else f"{args.concurrency} concurrent"
    lines = [
        f"triage {'burst' if args.rate is None else 'steady rate'} ({variant.label}): {args.tickets} tickets over "
        f"HTTP, {offered}; "
        f"{args.workers} worker(s) x {args.worker_concurrency} threads; {store} + Redis",
        f"submitted/s      {len(results) / submit_seconds:8.1f}   ({len(results)} in {submit_seconds:.1f} s; HTTP "
        f"p50 {np.percentile(http, 50):.0f} ms, p99 {np.percentile(http, 99):.0f} ms)",
        f"routed/s         {figures.routed_per_second:8.1f}   ({len(done)} triaged {span:.1f} s after the first "
        f"submit: routed {outcomes['routed']}, needs_manual {outcomes['needs_manual']}, merged as duplicates "
        f"{outcomes['merged']}, still received {outcomes['received']})",
        f"submit→routed    p50 {figures.p50_seconds:.2f} s   p99 {figures.p99_seconds:.2f} s   "
        f"max {figures.max_seconds:.2f} s",
        f"errors           {len(errors)}" + (f"   e.g. {errors[0]}" if errors else ""),
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    return figures


def comparison(runs: list[Figures]) -> str:
    """The runs side by side: one Markdown row each."""
    roles = sorted({name for run in runs for name in run.cpu_ms_per_ticket})
    header = [
        "backend",
        "shared embedding",
        "cases",
        "offered/s",
        "routed/s",
        "p50 s",
        "p99 s",
        "max s",
        "lost",
        "dup.",
    ]
    header += [f"{role} CPU-ms/ticket" for role in roles]
    rows = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for run in runs:
        cells = [
            run.variant.backend,
            "on" if run.variant.shared_embedding else "off",
            f"{run.variant.cases:,}" if run.variant.cases else "packaged",
            f"{run.offered_per_second:.1f}",
            f"{run.routed_per_second:.1f}",
            f"{run.p50_seconds:.2f}",
            f"{run.p99_seconds:.2f}",
            f"{run.max_seconds:.2f}",
            str(run.lost),
            str(run.duplicated),
            *(f"{run.cpu_ms_per_ticket.get(role, float('nan')):.1f}" for role in roles),
        ]
        rows.append("| " + " | ".join(cells) + " |")
    loads = ", ".join(f"{run.load_average[0]:.1f}→{run.load_average[1]:.1f}" for run in runs)
    return "\n".join(rows) + f"\nload average per run (1 min, before→after): {loads}\n"


def variants(args: argparse.Namespace) -> list[Variant]:
    """Every combination asked for, in the order given."""
    shared = {"on": [True], "off": [False], "both": [True, False]}[args.shared_embedding]
    return [
        Variant(backend, share, cases) for cases, backend, share in itertools.product(args.cases, args.backend, shared)
    ]


def main(argv: list[str] | None = None) -> int:
    """Entry point: `python -m bench.triage_burst [--tickets N | --rate R --duration S] [--backend B ...] ...`."""
    parser = argparse.ArgumentParser(prog="python -m bench.triage_burst", description=__doc__)
    parser.add_argument("--tickets", type=int, default=1000, help="tickets in the burst")
    parser.add_argument("--concurrency", type=int, default=16, help="HTTP submits in flight at once")
    parser.add_argument("--workers", type=int, default=1, help="Celery worker processes")
    parser.add_argument(
        "--worker-concurrency",
        type=int,
        default=SHIPPED_WORKER_CONCURRENCY,
        help="triage threads per worker (default: as shipped)",
    )
    parser.add_argument("--warmup", type=int, default=8, help="tickets triaged before the burst, not counted")
    parser.add_argument("--database", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait for the last triage")
    parser.add_argument(
        "--ready-timeout",
        type=float,
        default=READY_SECONDS,
        help="seconds the stack may take to start (seeding and training embed the corpus: slow with torch)",
    )
    parser.add_argument(
        "--redis-url",
        default=BENCH_REDIS,
        help="broker (its database is emptied); `own`: a redis-server of the stack's own",
    )
    parser.add_argument(
        "--backend",
        nargs="+",
        choices=BACKENDS,
        default=[RetrievalSettings().embedding_backend],
        help="retrieval's embedding backend(s); default: the configured one",
    )
    parser.add_argument(
        "--shared-embedding",
        choices=("on", "off", "both"),
        default="on",
        help="whether the worker sends its duplicate-check vector with the Route call (`both`: compare)",
    )
    parser.add_argument(
        "--cases",
        type=int,
        nargs="+",
        default=[0],
        help="cases in retrieval's index, e.g. `0 100000` to compare (0: the packaged corpus it seeds; more: the "
        "packaged cases and synthetic variations, bench/synthetic_cases.py)",
    )
    parser.add_argument("--rate", type=float, help="steady offered rate, tickets/s, instead of a burst")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of the steady rate (with --rate)")
    args = parser.parse_args(argv)
    if min(args.cases) < 0:
        parser.error("--cases must be >= 0")
    if args.rate is not None:
        if args.rate <= 0 or args.duration <= 0:
            parser.error("--rate and --duration must be positive")
        args.tickets = round(args.rate * args.duration)
    runs = [run_variant(args, variant) for variant in variants(args)]
    if len(runs) > 1:
        sys.stdout.write(comparison(runs))
    return 0 if all(run.complete for run in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
