"""CPU-ms per POST /v1/tickets in `linli serve intake`, for one or more source trees side by side.

Run `python -m bench.intake_submit_cpu --trees /work/main .`: each tree's intake runs as its own process (its own
fresh PostgreSQL database and Redis database, no Celery worker: the triage messages wait in the broker), warmed up,
then the trees take turns for `--rounds` rounds of `--tickets` submissions each. A round's figure is the intake
process's CPU time (user + system, /proc) divided by the tickets it accepted; the medians are printed per tree.
Comparing trees in one run on one machine cancels most of the load other processes put on it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import redis

from bench.reliability.processes import Role, Supervisor
from bench.reliability.residents import Submission, Submitter
from bench.reliability.stack import (
    BENCH_REDIS_DATABASES,
    Addresses,
    StackConfig,
    free_port,
    fresh_database,
    progress,
    stack_environment,
)
from bench.reliability.workload import complaint_bodies
from services.intake.settings import IntakeSettings

# Residents of every round, each logged in during the warm-up.
RESIDENTS = 100


@dataclass
class Tree:
    """One source tree's running intake, its residents (logged in once) and its per-round CPU-ms per ticket."""

    label: str
    process: str
    http: str
    redis_url: str
    submitter: Submitter
    rounds: list[float]
    idle_ms_per_second: float = float("nan")


def _planned(count: int, prefix: str, communities: list[str]) -> list[Submission]:
    # The same RESIDENTS residents every round: their logins happen in the warm-up, not in a measured round.
    bodies = complaint_bodies(communities)
    return [Submission(f"{prefix}-{n}", f"resident-{n % RESIDENTS}", next(bodies)) for n in range(count)]


def _start(tree: Path, number: int, database_url: str, supervisor: Supervisor, concurrency: int) -> Tree:
    folder = supervisor.folder
    port = free_port()
    redis_url = f"redis://127.0.0.1:6379/{BENCH_REDIS_DATABASES[number]}"
    redis.Redis.from_url(redis_url).flushdb()
    unused = "127.0.0.1:9"  # routing and retrieval: never called without a worker
    addresses = Addresses(f"http://127.0.0.1:{port}", f"127.0.0.1:{free_port()}", unused, unused, redis_url)
    env = stack_environment(StackConfig(beat=False), database_url, folder, addresses)
    env["PYTHONPATH"] = str(tree.resolve())
    name = f"intake-{number}"
    # In the tree: `python -m` puts the working directory first on the path, ahead of PYTHONPATH.
    command = ("env", "-C", str(tree.resolve()), sys.executable, "-m", "services.cli", "serve", "intake")
    supervisor.start(Role(name, command, env))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        supervisor.check_alive()
        try:
            if httpx.get(f"{addresses.http}/readyz", timeout=2).status_code == 200:
                submitter = Submitter(addresses.http, concurrency=concurrency, give_up_after=0.0)
                return Tree(f"{name} ({tree})", name, addresses.http, redis_url, submitter, [])
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{name} not ready; see {folder}")


def _round(tree: Tree, supervisor: Supervisor, planned: list[Submission]) -> float:
    before = supervisor.cpu_seconds()[tree.process]
    receipts = tree.submitter.run(planned)
    used = supervisor.cpu_seconds()[tree.process] - before
    accepted = sum(1 for receipt in receipts if receipt.ticket_id)
    if accepted < len(receipts):
        progress("intake_submit_cpu", f"{tree.label}: {len(receipts) - accepted} submissions failed")
    return 1000 * used / max(accepted, 1)


def _measure_idle(trees: list[Tree], supervisor: Supervisor, seconds: float) -> None:
    """What each intake burns with no request at all, in CPU-ms per second (all trees over the same seconds)."""
    before = supervisor.cpu_seconds()
    time.sleep(seconds)
    after = supervisor.cpu_seconds()
    for tree in trees:
        tree.idle_ms_per_second = 1000 * (after[tree.process] - before[tree.process]) / seconds


def main(argv: list[str] | None = None) -> int:
    """Entry point: `python -m bench.intake_submit_cpu --trees OLD NEW [--rounds 5] [--tickets 400]`."""
    parser = argparse.ArgumentParser(prog="python -m bench.intake_submit_cpu", description=__doc__)
    parser.add_argument("--trees", nargs="+", type=Path, default=[Path(".")], help="source trees to compare")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tickets", type=int, default=400, help="submissions per round and tree")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of no requests, to measure idle CPU")
    args = parser.parse_args(argv)
    if len(args.trees) > len(BENCH_REDIS_DATABASES):
        parser.error(f"at most {len(BENCH_REDIS_DATABASES)} trees: one Redis database each, outside the suite's")
    folder = Path(tempfile.mkdtemp(prefix="linli-submit-cpu-"))
    supervisor = Supervisor(folder)
    with ExitStack() as stack:
        stack.callback(supervisor.stop)
        urls = [stack.enter_context(fresh_database()) for _ in args.trees]
        trees = [_start(tree, n, urls[n], supervisor, args.concurrency) for n, tree in enumerate(args.trees)]
        communities = list(IntakeSettings().known_communities)
        for tree in trees:
            stack.callback(tree.submitter.close)
            _round(tree, supervisor, _planned(2 * RESIDENTS, "warm", communities))
        _measure_idle(trees, supervisor, args.idle)
        for number in range(args.rounds):
            planned = _planned(args.tickets, f"round{number}", communities)
            for tree in trees:
                tree.rounds.append(_round(tree, supervisor, planned))
                progress("intake_submit_cpu", f"round {number + 1}: {tree.label} {tree.rounds[-1]:.2f} CPU-ms/ticket")
        for tree in trees:
            redis.Redis.from_url(tree.redis_url).flushdb()
    load = os.getloadavg()[0]
    for tree in trees:
        rounds = ", ".join(f"{ms:.2f}" for ms in tree.rounds)
        sys.stdout.write(
            f"{tree.label}: median {statistics.median(tree.rounds):.2f} CPU-ms/ticket ({rounds}); "
            f"idle {tree.idle_ms_per_second:.1f} CPU-ms/s\n"
        )
    sys.stdout.write(f"load average after: {load:.1f}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
