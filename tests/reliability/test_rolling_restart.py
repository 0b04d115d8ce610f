"""A rolling restart of three retrieval replicas on one PostgreSQL store under search load fails no search."""

from __future__ import annotations

from bench.reliability.rolling_restart import run
from tests.unit.fakes import HashEmbedder


def test_a_rolling_restart_under_load_fails_no_search_and_every_replica_converges(postgres_url: str) -> None:
    figures = run(postgres_url, HashEmbedder(), seed_cases=200, rate=100.0, settle=1.0)
    print(figures)  # the figures, for the run's log
    assert len(figures.restart_seconds) == 3
    assert figures.searches > 100
    assert figures.failed_searches == 0
    assert figures.failed_writes == 0
    assert figures.writes > 5
    assert figures.converged_seconds_after_load < 2.0
