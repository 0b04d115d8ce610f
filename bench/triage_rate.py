"""The steady-rate mode of `python -m bench.triage_burst --rate 50 --duration 60`: submissions at a fixed offered rate.

Open loop: submission i is due at t0 + i/rate whatever became of the earlier ones, and is handed to a pool of
senders, so a slow answer delays no later arrival (as long as the pool has a free sender: the achieved offered rate,
from the times the submissions really left, is printed next to the one asked for).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Protocol

from bench.reliability.ledger import Audit
from bench.reliability.residents import Receipt, Submission

# Senders at least, so answers slower than 1/rate do not hold back the arrivals.
MIN_SENDERS = 64


class Sender(Protocol):
    """Sends one submission on a pool of its own (bench/reliability/residents.py's Submitter)."""

    def send(self, submission: Submission) -> Future[Receipt]: ...


def pacing_schedule(count: int, rate: float, start: float = 0.0) -> list[float]:
    """When each of `count` submissions is due: `start + i / rate` (open loop, never shifted by a slow answer)."""
    if rate <= 0:
        raise ValueError("rate must be positive")
    return [start + n / rate for n in range(count)]


def submit_at_rate(
    submitter: Sender,
    planned: Sequence[Submission],
    rate: float,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Receipt]:
    """Hands each submission to `submitter`'s senders when `pacing_schedule` says it is due; the receipts, in order."""
    futures: list[Future[Receipt]] = []
    for due, submission in zip(pacing_schedule(len(planned), rate, clock()), planned, strict=True):
        sleep(max(0.0, due - clock()))
        futures.append(submitter.send(submission))
    return [future.result() for future in futures]


def offered_rate(receipts: Sequence[Receipt]) -> float:
    """Submissions per second as they really left: (n - 1) over the span of their first attempts."""
    starts = sorted(receipt.started_at for receipt in receipts)
    if len(starts) < 2 or starts[-1] <= starts[0]:
        return float("nan")
    return (len(starts) - 1) / (starts[-1] - starts[0])


def delivery_line(checked: Audit) -> str:
    """The line saying what was lost (accepted, never triaged) and duplicated (triaged more than once)."""
    lost, duplicated = checked.never_triaged, checked.triaged_twice
    line = f"lost {len(lost)}, duplicated {len(duplicated)}   ({checked.accepted} accepted"
    line += f", {checked.gave_up} not accepted)" if checked.gave_up else ")"
    examples = [*(f"lost {key}" for key in lost[:2]), *(f"duplicated {key}" for key in duplicated[:2])]
    return line + (f"   e.g. {', '.join(examples)}" if examples else "")


def machine_busy_seconds(stat: str | None = None) -> float:
    """CPU time every core of the machine spent on anything but idling, from /proc/stat's first line.

    It counts what the stack's own processes do not: PostgreSQL, Redis, the kernel and this benchmark's client, all
    sharing the same cores; on a machine nobody else uses, busy CPU per ticket is the whole cost of a ticket.
    """
    first = (stat if stat is not None else Path("/proc/stat").read_text()).splitlines()[0].split()
    ticks = [int(value) for value in first[1:9]]  # user nice system idle iowait irq softirq steal
    idle, iowait = ticks[3], ticks[4]
    return (sum(ticks) - idle - iowait) / os.sysconf("SC_CLK_TCK")
