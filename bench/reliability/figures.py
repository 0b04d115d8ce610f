"""Figures shared by the load and fault runs: latency percentiles, memory, machine load, the final JSON line."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from bench.reliability.ledger import Triage
from bench.reliability.residents import Receipt

MIB = 1024 * 1024


def latency_seconds(times: Iterable[Triage]) -> dict[str, float]:
    """p50, p99 and max of submit→triaged (server clocks) over the triaged tickets; NaN when none was."""
    seconds = [(t.decided_at - t.created_at).total_seconds() for t in times if t.decided_at is not None]
    if not seconds:
        return {"p50": float("nan"), "p99": float("nan"), "max": float("nan")}
    values = np.asarray(seconds)
    return {
        "p50": round(float(np.percentile(values, 50)), 2),
        "p99": round(float(np.percentile(values, 99)), 2),
        "max": round(float(values.max()), 2),
    }


def delayed(times: Iterable[Triage], *, over_seconds: float) -> int:
    """Tickets whose triage took longer than `over_seconds` (or has not happened): the ones a fault held up."""
    return sum(1 for t in times if t.decided_at is None or (t.decided_at - t.created_at).total_seconds() > over_seconds)


def error_counts(receipts: Iterable[Receipt]) -> dict[str, int]:
    """Failed attempts by kind (each was retried), plus submissions refused (4xx) or given up."""
    counts: dict[str, int] = {}
    for receipt in receipts:
        for kind, count in receipt.failures.items():
            counts[kind] = counts.get(kind, 0) + count
        if receipt.error:
            kind = "gave_up" if receipt.error.startswith("gave up") else f"HTTP {receipt.status_code}"
            counts[kind] = counts.get(kind, 0) + 1
    return counts


def memory_mib(rss: Mapping[str, int]) -> dict[str, float]:
    """Resident memory per role in MiB, with the total."""
    figures = {name: round(value / MIB, 1) for name, value in rss.items()}
    figures["total"] = round(sum(rss.values()) / MIB, 1)
    return figures


def load_average() -> list[float]:
    """The machine's 1, 5 and 15 minute load averages (the machine is shared: they say how busy it was)."""
    return [round(value, 2) for value in os.getloadavg()]


def write_lines(lines: Iterable[str]) -> None:
    """Human-readable figures on stdout."""
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


def write_json_line(figures: Mapping[str, Any]) -> None:
    """The final, machine-readable line of a run."""
    sys.stdout.write(json.dumps(figures, ensure_ascii=False, sort_keys=True) + "\n")
    sys.stdout.flush()
