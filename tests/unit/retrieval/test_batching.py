"""The micro-batcher: concurrent callers share model calls, each gets its own rows, errors reach the right callers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import pytest

from linli.embedding import Vectors
from linli.errors import Unavailable
from services.retrieval.batching import MicroBatcher
from tests.unit.fakes import HashEmbedder

POISON = "poison"


class GatedEmbedder:
    """A hash embedder that records each batch, holds its first batch until released, and fails on POISON."""

    def __init__(self) -> None:
        self.inner = HashEmbedder()
        self.batches: list[list[str]] = []
        self.first_batch_started = threading.Event()
        self.release = threading.Event()

    @property
    def model_name(self) -> str:
        return self.inner.model_name

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def embed(self, texts: list[str]) -> Vectors:
        self.batches.append(list(texts))
        if len(self.batches) == 1:
            self.first_batch_started.set()
            assert self.release.wait(10), "test never released the first batch"
        if POISON in texts:
            raise ValueError("the model choked")
        return self.inner.embed(texts)


@pytest.fixture
def model() -> GatedEmbedder:
    return GatedEmbedder()


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=16) as executor:
        yield executor


def submit_while_held(
    batcher: MicroBatcher, model: GatedEmbedder, pool: ThreadPoolExecutor, calls: list[list[str]]
) -> list[Future[Vectors]]:
    """Occupies the worker with a first call, queues `calls` behind it, then lets the worker go on."""
    first = pool.submit(batcher.embed, ["先到的一条"])
    assert model.first_batch_started.wait(5)
    futures = [pool.submit(batcher.embed, texts) for texts in calls]
    deadline = time.monotonic() + 5
    while batcher.pending < len(calls):
        assert time.monotonic() < deadline, "callers never reached the queue"
        time.sleep(0.001)
    model.release.set()
    first.result(timeout=5)
    return futures


def expected(texts: list[str]) -> Vectors:
    return HashEmbedder().embed(texts)


def test_concurrent_callers_share_one_batch_and_each_gets_its_own_rows_in_order(
    model: GatedEmbedder, pool: ThreadPoolExecutor
) -> None:
    batcher = MicroBatcher(model, wait_ms=0, max_batch=64)
    calls = [[f"投诉{i}-甲", f"投诉{i}-乙", f"投诉{i}-丙"][: 1 + i % 3] for i in range(10)]

    futures = submit_while_held(batcher, model, pool, calls)

    for texts, future in zip(calls, futures, strict=True):
        np.testing.assert_array_equal(future.result(timeout=5), expected(texts))
    assert len(model.batches) == 2  # the held first call, then every queued call in one batch
    assert sorted(model.batches[1]) == sorted(text for texts in calls for text in texts)
    batcher.close()


def test_a_lone_call_waits_for_company_then_goes_alone(model: GatedEmbedder) -> None:
    model.release.set()
    batcher = MicroBatcher(model, wait_ms=50, max_batch=64)

    started = time.monotonic()
    vectors = batcher.embed(["电梯坏了"])

    assert time.monotonic() - started >= 0.045
    np.testing.assert_array_equal(vectors, expected(["电梯坏了"]))
    batcher.close()


def test_callers_arriving_within_the_wait_are_gathered(model: GatedEmbedder, pool: ThreadPoolExecutor) -> None:
    model.release.set()
    batcher = MicroBatcher(model, wait_ms=10_000, max_batch=4)
    texts = ["楼道灯坏了", "楼上漏水", "消防通道被占", "垃圾没人清"]

    futures = [pool.submit(batcher.embed, [text]) for text in texts]
    started = time.monotonic()
    results = [future.result(timeout=10) for future in futures]

    # A full batch does not sit out the ten-second wait.
    assert time.monotonic() - started < 5
    assert [sorted(batch) for batch in model.batches] == [sorted(texts)]
    for text, vectors in zip(texts, results, strict=True):
        np.testing.assert_array_equal(vectors, expected([text]))
    batcher.close()


def test_a_failing_batch_fails_exactly_its_own_callers(model: GatedEmbedder, pool: ThreadPoolExecutor) -> None:
    batcher = MicroBatcher(model, wait_ms=0, max_batch=3)
    calls = [["甲"], [POISON, "乙"], ["丙", "丁"], ["戊"]]  # batches: [甲, poison, 乙] and [丙, 丁, 戊]

    futures = submit_while_held(batcher, model, pool, calls)

    with pytest.raises(ValueError, match="choked"):
        futures[0].result(timeout=5)
    with pytest.raises(ValueError, match="choked"):
        futures[1].result(timeout=5)
    np.testing.assert_array_equal(futures[2].result(timeout=5), expected(["丙", "丁"]))
    np.testing.assert_array_equal(futures[3].result(timeout=5), expected(["戊"]))
    assert model.batches[1:] == [["甲", POISON, "乙"], ["丙", "丁", "戊"]]
    batcher.close()


def test_batches_respect_max_batch_and_never_split_a_call(model: GatedEmbedder, pool: ThreadPoolExecutor) -> None:
    batcher = MicroBatcher(model, wait_ms=0, max_batch=4)
    calls = [["a1", "a2", "a3"], ["b1", "b2"], ["c1"], ["d1", "d2", "d3", "d4", "d5", "d6"], ["e1"]]

    futures = submit_while_held(batcher, model, pool, calls)

    for texts, future in zip(calls, futures, strict=True):
        np.testing.assert_array_equal(future.result(timeout=5), expected(texts))
    assert model.batches[1:] == [["a1", "a2", "a3"], ["b1", "b2", "c1"], ["d1", "d2", "d3", "d4", "d5", "d6"], ["e1"]]
    batcher.close()


def test_close_embeds_what_is_queued_then_refuses_new_calls(model: GatedEmbedder, pool: ThreadPoolExecutor) -> None:
    threads_before = set(threading.enumerate())
    batcher = MicroBatcher(model, wait_ms=1_000, max_batch=64)
    (worker,) = (thread for thread in set(threading.enumerate()) - threads_before if thread.name == "embed-batcher")
    first = pool.submit(batcher.embed, ["先到的一条"])
    assert model.first_batch_started.wait(5)
    queued = pool.submit(batcher.embed, ["排队的一条"])
    while batcher.pending < 1:
        time.sleep(0.001)

    closing = pool.submit(batcher.close)
    model.release.set()
    closing.result(timeout=5)

    np.testing.assert_array_equal(first.result(timeout=1), expected(["先到的一条"]))
    np.testing.assert_array_equal(queued.result(timeout=1), expected(["排队的一条"]))
    with pytest.raises(Unavailable):
        batcher.embed(["来晚了"])
    assert not worker.is_alive()


class WrongCountEmbedder(HashEmbedder):
    def embed(self, texts: list[str]) -> Vectors:
        return super().embed(texts[:-1])


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: MicroBatcher(HashEmbedder(), wait_ms=-1, max_batch=4), "wait_ms"),
        (lambda: MicroBatcher(HashEmbedder(), wait_ms=1, max_batch=0), "max_batch"),
    ],
)
def test_bad_parameters_are_refused(build: Callable[[], MicroBatcher], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()


def test_a_model_returning_the_wrong_number_of_rows_fails_its_callers() -> None:
    batcher = MicroBatcher(WrongCountEmbedder(), wait_ms=0, max_batch=8)
    with pytest.raises(RuntimeError, match="1 vectors for 2 texts"):
        batcher.embed(["甲", "乙"])
    assert batcher.embed([]).shape == (0, batcher.dimension)
    batcher.close()
