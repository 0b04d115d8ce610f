"""Faults during a burst: SIGKILL each gRPC service and the Celery worker, restart Redis; nothing lost or duplicated.

Run `python -m bench.reliability.faults` (every scenario, one after the other on one stack) or `--scenario NAME`
(retrieval, routing, intake, worker, redis). In each, residents submit a burst over HTTP at `--rate` per second,
retrying with the same Idempotency-Key on connection errors and 5xx as the mini-program does; `--kill-after`
seconds in, the role is SIGKILLed and started again `--down` seconds later (as Kubernetes would). Once the burst is
in and the stack settled, every accepted submission is checked against the ticket database: stored exactly once
under its key, routed or in the manual queue, with exactly one decision event and no transition recorded twice.
Redis runs without persistence, so its restart loses every queued and unacknowledged task: the ticket database is
the record, and beat's sweep queues again what waits too long. Figures per scenario, then one JSON line.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.reliability.figures import (
    delayed,
    error_counts,
    latency_seconds,
    load_average,
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

# The roles each scenario kills, one after the other.
SCENARIOS: dict[str, tuple[str, ...]] = {
    "retrieval": ("retrieval",),
    "routing": ("routing",),
    "intake": ("intake",),
    "worker": ("worker-0",),
    "redis": ("redis",),
}
# Short recovery intervals, so that a run takes minutes: beat sweeps every 5 s and re-queues a ticket still waiting
# 30 s after its task was queued (after a Redis restart, that is how lost tasks come back); a killed worker's
# unacknowledged tasks come back after 60 s; triage retries an unavailable routing 8 times from 1 s on.
# Duplicate detection is off: every ticket must end routed or in the manual queue, none merged into another.
FAULT_SETTINGS = {
    "LINLI_INTAKE_STUCK_AFTER_SECONDS": "30",
    "LINLI_INTAKE_SWEEP_INTERVAL_SECONDS": "5",
    "LINLI_INTAKE_TRIAGE_TIME_LIMIT_SECONDS": "40",
    "LINLI_INTAKE_BROKER_VISIBILITY_TIMEOUT_SECONDS": "60",
    "LINLI_INTAKE_TRIAGE_MAX_RETRIES": "8",
    "LINLI_INTAKE_TRIAGE_RETRY_BACKOFF_SECONDS": "1",
    "LINLI_INTAKE_RPC_TIMEOUT_SECONDS": "10",
    "LINLI_ROUTING_RPC_TIMEOUT_SECONDS": "5",
    "LINLI_INTAKE_DUPLICATE_WINDOW_HOURS": "0",
}
ALLOWED_OUTCOMES = frozenset({"routed", "needs_manual"})
# Triage normally takes well under a second: a ticket that took longer than this was held up by the fault.
DELAYED_SECONDS = 5.0


def _say(message: str) -> None:
    progress("faults", message)


@dataclass(frozen=True)
class FaultPlan:
    """One burst and when its fault strikes."""

    tickets: int = 240
    rate: float = 8.0
    kill_after: float = 10.0
    down: float = 3.0
    settle_timeout: float = 300.0


class Burst:
    """A burst of submissions running on a thread of its own."""

    def __init__(self, stack: Stack, scenario: str, plan: FaultPlan) -> None:
        communities = list(IntakeSettings().known_communities)
        self._planned = submissions(communities, plan.tickets, prefix=f"{scenario}-{uuid.uuid4().hex[:8]}")
        self._submitter = Submitter(stack.addresses.http, concurrency=16, give_up_after=plan.settle_timeout)
        self._rate = plan.rate
        self.receipts: list[Receipt] = []
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self.receipts = self._submitter.run(self._planned, rate=self._rate)

    def start(self) -> None:
        self._thread.start()

    def join(self) -> list[Receipt]:
        """Waits for every submission's final answer."""
        self._thread.join()
        self._submitter.close()
        return self.receipts


def inject(stack: Stack, role: str, plan: FaultPlan) -> float:
    """SIGKILLs `role`, starts it again after `plan.down` seconds, waits until the stack is ready; returns how long
    the stack was not ready."""
    stack.kill(role)
    killed = time.monotonic()
    time.sleep(plan.down)
    stack.restart(role)
    stack.wait_ready()
    return round(time.monotonic() - killed, 1)


def run_scenario(
    stack: Stack, database: Database, scenario: str, roles: tuple[str, ...], plan: FaultPlan
) -> dict[str, Any]:
    """One burst; `plan.kill_after` seconds in, each of `roles` killed and restarted in turn; the burst's audit."""
    crashes_before = dict(stack.supervisor.crashes)
    _say(
        f"{scenario}: {plan.tickets} tickets at {plan.rate}/s, SIGKILL of {', '.join(roles)} after {plan.kill_after} s"
    )
    burst = Burst(stack, scenario, plan)
    burst.start()
    time.sleep(plan.kill_after)
    waiting_at_kill = backlog(database)
    killed = time.monotonic()
    recovered = [inject(stack, role, plan) for role in roles]
    receipts = burst.join()
    ids = [receipt.ticket_id for receipt in receipts if receipt.ticket_id]
    settled = wait_triaged(database, ids, timeout=plan.settle_timeout, check=stack.supervisor.check_alive, say=_say)
    times = triage_times(database, ids).values()
    checked = audit(database, receipts)
    outcomes_ok = set(checked.outcomes) <= ALLOWED_OUTCOMES
    return {
        "scenario": scenario,
        "killed": list(roles),
        "tickets": len(receipts),
        "waiting_at_kill": waiting_at_kill,
        "down_s": plan.down,
        "recovered_s": recovered[0] if len(recovered) == 1 else recovered,
        "settled_s": round(time.monotonic() - killed, 1) if settled else None,
        "submit_to_routed_s": latency_seconds(times),
        "delayed_over_5s": delayed(times, over_seconds=DELAYED_SECONDS),
        "errors": error_counts(receipts),
        # Roles that exited on their own during the scenario and were restarted as Kubernetes would.
        "crashed": {
            name: count - crashes_before.get(name, 0)
            for name, count in stack.supervisor.crashes.items()
            if count > crashes_before.get(name, 0)
        },
        "passed": checked.clean and outcomes_ok and checked.gave_up == 0,
        **checked.figures(),
    }


def _line(f: dict[str, Any]) -> str:
    return (
        f"{f['scenario']:<10} {'PASS' if f['passed'] else 'FAIL'}  accepted {f['accepted']:4d}  lost {f['lost']}  "
        f"duplicated {f['duplicated']}  untriaged {f['untriaged']}  double decisions {f['double_decisions']}  "
        f"outcomes {f['outcomes']}  waiting at kill {f['waiting_at_kill']}  delayed >5 s {f['delayed_over_5s']}  "
        f"recovered {f['recovered_s']} s  settled {f['settled_s']} s  p99 {f['submit_to_routed_s']['p99']} s  "
        f"retried {f['errors'] or 0}  crashed {f['crashed'] or 0}"
    )


def run(args: argparse.Namespace) -> int:
    """Starts one stack, runs the chosen scenarios on it in turn; 0 when every one passed."""
    plan = FaultPlan(args.tickets, args.rate, args.kill_after, args.down, args.settle_timeout)
    scenarios = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
    folder = Path(tempfile.mkdtemp(prefix="linli-faults-"))
    config = StackConfig(
        worker_concurrency=args.worker_concurrency, embedding_backend=args.embedding_backend, settings=FAULT_SETTINGS
    )
    _say(f"starting the stack (logs in {folder})")
    results: list[dict[str, Any]] = []
    load_at_start = load_average()
    with fresh_database() as database_url, running_stack(config, folder, database_url) as stack:
        database = Database(stack.database_url)
        stack.supervisor.watch(revive_after=plan.down)
        try:
            for scenario in scenarios:
                results.append(run_scenario(stack, database, scenario, SCENARIOS[scenario], plan))
                write_lines([_line(results[-1])])
        finally:
            database.dispose()
    passed = all(result["passed"] for result in results)
    write_json_line(
        {
            "suite": "faults",
            "passed": passed,
            "plan": vars(plan),
            "backend": args.embedding_backend,
            "load_average_start": load_at_start,
            "load_average_end": load_average(),
            "scenarios": results,
        }
    )
    return 0 if passed else 1


def main(argv: list[str] | None = None) -> int:
    """Entry point: `python -m bench.reliability.faults [--scenario NAME] [--tickets N] [--rate R] ...`."""
    parser = argparse.ArgumentParser(prog="python -m bench.reliability.faults", description=__doc__)
    parser.add_argument("--scenario", choices=("all", *SCENARIOS), default="all")
    parser.add_argument("--tickets", type=int, default=FaultPlan.tickets, help="tickets in each burst")
    parser.add_argument("--rate", type=float, default=FaultPlan.rate, help="tickets submitted per second")
    parser.add_argument("--kill-after", type=float, default=FaultPlan.kill_after, help="seconds into the burst")
    parser.add_argument("--down", type=float, default=FaultPlan.down, help="seconds before the restart")
    parser.add_argument("--settle-timeout", type=float, default=FaultPlan.settle_timeout)
    parser.add_argument(
        "--worker-concurrency",
        type=int,
        default=SHIPPED_WORKER_CONCURRENCY,
        help="triage threads of the worker (default: as shipped)",
    )
    parser.add_argument(
        "--embedding-backend",
        choices=("torch", "onnx-int8"),
        default=RetrievalSettings().embedding_backend,
        help="retrieval's backend; default: the configured one",
    )
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
