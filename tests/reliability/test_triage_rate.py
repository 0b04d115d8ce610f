"""The steady-rate mode's pacing is open loop, and its accounting names what was lost or duplicated."""

from __future__ import annotations

import os
from collections import Counter
from concurrent.futures import Future

import pytest

from bench.reliability.ledger import Audit
from bench.reliability.residents import Receipt, Submission
from bench.triage_rate import delivery_line, machine_busy_seconds, offered_rate, pacing_schedule, submit_at_rate


def test_submissions_are_due_at_fixed_intervals_from_the_start() -> None:
    assert pacing_schedule(4, 50.0, start=100.0) == pytest.approx([100.0, 100.02, 100.04, 100.06])


def test_a_rate_of_zero_is_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        pacing_schedule(3, 0.0)


class _SlowSubmitter:
    """Answers each submission only later (futures left pending), recording when each was handed over."""

    def __init__(self, clock: list[float]) -> None:
        self.clock = clock
        self.sent_at: list[float] = []
        self.pending: list[Future[Receipt]] = []

    def send(self, submission: Submission) -> Future[Receipt]:
        self.sent_at.append(self.clock[0])
        future: Future[Receipt] = Future()
        future.set_result(Receipt(submission.key, ticket_id=f"t-{submission.key}"))
        self.clock[0] += 0.5  # a slow answer (longer than the interval) must not delay the next arrival
        return future


def test_arrivals_keep_their_schedule_however_slow_the_answers() -> None:
    clock = [10.0]
    submitter = _SlowSubmitter(clock)
    planned = [Submission(f"k-{n}", "r-1", {"text": "楼道灯坏了"}) for n in range(4)]

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    receipts = submit_at_rate(submitter, planned, 1.0, clock=lambda: clock[0], sleep=sleep)

    assert submitter.sent_at == [10.0, 11.0, 12.0, 13.0]
    assert [receipt.ticket_id for receipt in receipts] == ["t-k-0", "t-k-1", "t-k-2", "t-k-3"]


def test_the_offered_rate_is_measured_from_when_submissions_left() -> None:
    receipts = [Receipt(f"k-{n}", started_at=1000.0 + n * 0.025) for n in range(41)]

    assert offered_rate(receipts) == pytest.approx(40.0)
    assert offered_rate(receipts[:1]) != offered_rate(receipts[:1])  # nan: one submission has no rate


def test_lost_counts_missing_and_untriaged_tickets_duplicated_counts_keys_and_decisions() -> None:
    checked = Audit(
        accepted=10,
        lost=["k-1"],
        untriaged=["t-2"],
        duplicated=["k-3"],
        double_decisions=["t-4", "t-5"],
        decided_twice=["t-4"],
        outcomes=Counter(routed=8),
    )

    assert checked.never_triaged == ["k-1", "t-2"]
    assert checked.triaged_twice == ["k-3", "t-4"]
    assert delivery_line(checked).startswith("lost 2, duplicated 2   (10 accepted)")


def test_a_clean_run_says_nothing_was_lost_or_duplicated() -> None:
    assert delivery_line(Audit(accepted=3)) == "lost 0, duplicated 0   (3 accepted)"


def test_machine_busy_time_leaves_out_idle_and_io_wait() -> None:
    stat = "cpu  100 20 30 5000 400 6 7 8 0 0\ncpu0 50 10 15 2500 200 3 3 4 0 0\n"
    ticks = os.sysconf("SC_CLK_TCK")

    assert machine_busy_seconds(stat) == pytest.approx((100 + 20 + 30 + 6 + 7 + 8) / ticks)
