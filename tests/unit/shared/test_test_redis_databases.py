"""The suite's parallel workers each flush and count in Redis databases of their own."""

from __future__ import annotations

import pytest

from bench.reliability.stack import BENCH_REDIS, BENCH_REDIS_DATABASES
from tests.conftest import BROWSER_REDIS_SLOT, REDIS_DBS_PER_WORKER, SECURITY_REDIS_SLOT, TESTS_REDIS_SLOT, redis_db

SLOTS = (TESTS_REDIS_SLOT, SECURITY_REDIS_SLOT, BROWSER_REDIS_SLOT)


def test_a_run_without_workers_keeps_the_databases_it_always_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    assert [redis_db(slot) for slot in SLOTS] == [15, 14, 13]


def suite_databases(monkeypatch: pytest.MonkeyPatch, workers: int = 4) -> list[int]:
    """Every database the suite's workers take (the Makefile runs at most 4)."""
    taken = []
    for worker in range(workers):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", f"gw{worker}")
        taken += [redis_db(slot) for slot in SLOTS]
    return taken


def test_four_workers_never_share_a_database_nor_take_a_developers_0(monkeypatch: pytest.MonkeyPatch) -> None:
    taken = suite_databases(monkeypatch)
    assert len(set(taken)) == 4 * REDIS_DBS_PER_WORKER
    assert min(taken) >= 1


def test_a_benchmark_never_empties_a_database_of_the_suite_nor_a_developers(monkeypatch: pytest.MonkeyPatch) -> None:
    # The benchmarks flush their database: run beside the suite, they would drop its queued tasks and counters.
    assert not set(BENCH_REDIS_DATABASES) & {0, *suite_databases(monkeypatch)}
    assert BENCH_REDIS.endswith(f"/{BENCH_REDIS_DATABASES[0]}")


def test_more_workers_than_databases_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw5")
    with pytest.raises(RuntimeError, match="too many pytest-xdist workers"):
        redis_db(BROWSER_REDIS_SLOT)
