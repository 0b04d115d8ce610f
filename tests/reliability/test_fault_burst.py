"""A compact fault run in the normal suite: a burst survives a Redis restart and a SIGKILL of retrieval.

The whole stack runs as child processes (bench/reliability/stack.py) on a fresh PostgreSQL database and a
redis-server of its own; `python -m bench.reliability.faults` runs the full set of scenarios (docs/reliability.md).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.reliability.faults import ALLOWED_OUTCOMES, FAULT_SETTINGS, FaultPlan, run_scenario
from bench.reliability.stack import Stack, StackConfig, running_stack
from services.intake.database import Database

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

# Quicker than the bench: the sweep re-queues what Redis lost after 8 s, every 2 s.
QUICK_RECOVERY = {
    **FAULT_SETTINGS,
    "LINLI_INTAKE_STUCK_AFTER_SECONDS": "8",
    "LINLI_INTAKE_SWEEP_INTERVAL_SECONDS": "2",
    "LINLI_INTAKE_TRIAGE_TIME_LIMIT_SECONDS": "15",
    "LINLI_INTAKE_BROKER_VISIBILITY_TIMEOUT_SECONDS": "20",
}
PLAN = FaultPlan(tickets=80, rate=8.0, kill_after=2.0, down=1.0, settle_timeout=90.0)


@pytest.fixture
def stack(postgres_url: str, corpus_slice: Path, tmp_path: Path) -> Iterator[Stack]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed: the test restarts a Redis of its own")
    # A fixed confidence: a model trained on the slice abstains on much (the pipeline is under test here).
    config = StackConfig(worker_concurrency=4, corpus=corpus_slice, min_confidence=0.6, settings=QUICK_RECOVERY)
    with running_stack(config, tmp_path, postgres_url) as running:
        running.supervisor.watch(revive_after=PLAN.down)
        yield running


def test_a_burst_through_a_redis_restart_and_a_retrieval_kill_loses_and_duplicates_nothing(stack: Stack) -> None:
    database = Database(stack.database_url)
    try:
        figures = run_scenario(stack, database, "compact", ("redis", "retrieval"), PLAN)
    finally:
        database.dispose()
    assert figures["accepted"] == PLAN.tickets, figures
    assert figures["gave_up"] == 0, figures
    assert (figures["lost"], figures["duplicated"]) == (0, 0), figures
    assert figures["untriaged"] == 0, figures
    assert (figures["double_decisions"], figures["double_transitions"]) == (0, 0), figures
    assert set(figures["outcomes"]) <= ALLOWED_OUTCOMES, figures
    # The faults held work up: some tickets waited for the sweep or for retrieval, and were still triaged.
    assert figures["delayed_over_5s"] > 0, figures
    assert figures["passed"], figures
