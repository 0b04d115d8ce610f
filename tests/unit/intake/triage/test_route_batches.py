"""A worker's triage threads share routing calls: a lone ticket goes at once, those waiting meanwhile go together."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from linli.clients.routing import RoutedComplaint
from linli.errors import InvalidArgument, Unavailable
from linli.v1 import routing_pb2
from services.intake.triage.route_batches import RouteBatches

WAIT_SECONDS = 5.0


class GatedRouting:
    """A routing client whose calls wait at a gate the test opens; it records what each call carried.

    `bad` texts make a batch INVALID_ARGUMENT and a lone call of them too; `down` makes every call UNAVAILABLE.
    """

    def __init__(self, *, bad: frozenset[str] = frozenset(), down: bool = False) -> None:
        self.calls: list[list[str]] = []
        self.gate = threading.Event()
        self.entered = threading.Semaphore(0)
        self._bad, self.down = bad, down
        self._lock = threading.Lock()
        self._running = 0
        self.most_running = 0

    def route(self, *, text: str, community: str, building: str) -> RoutedComplaint:
        return self._call([text])[0]

    def route_many(self, complaints: Sequence[routing_pb2.Complaint]) -> list[RoutedComplaint]:
        return self._call([complaint.text for complaint in complaints])

    def _call(self, texts: list[str]) -> list[RoutedComplaint]:
        with self._lock:
            self.calls.append(texts)
            self._running += 1
            self.most_running = max(self.most_running, self._running)
        self.entered.release()
        try:
            assert self.gate.wait(WAIT_SECONDS)
            if self.down:
                raise Unavailable("routing: down")
            if self._bad & set(texts):
                raise InvalidArgument.for_field("complaints[0].text", "bad")
            return [RoutedComplaint(routing_pb2.RoutingDecision(category=text), None) for text in texts]
        finally:
            with self._lock:
                self._running -= 1


def route_all(batches: RouteBatches, texts: list[str], *, first_in_flight: GatedRouting) -> list[Future[str]]:
    """Routes the first text, waits until its call is in flight, then routes the others (which must wait)."""
    pool = ThreadPoolExecutor(max_workers=len(texts))

    def route(text: str) -> str:
        return batches.route(text=text, community="恒康居民区", building="").decision.category

    futures = [pool.submit(route, texts[0])]
    assert first_in_flight.entered.acquire(timeout=WAIT_SECONDS)
    futures += [pool.submit(route, text) for text in texts[1:]]
    pool.shutdown(wait=False)
    return futures


def settle(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_a_lone_ticket_goes_at_once_as_a_plain_route_call() -> None:
    routing = GatedRouting()
    routing.gate.set()
    batches = RouteBatches(routing, max_batch=8, in_flight=2)
    assert batches.route(text="楼道灯坏了", community="恒康居民区", building="").decision.category == "楼道灯坏了"
    assert routing.calls == [["楼道灯坏了"]]


def test_tickets_triaged_while_a_call_is_in_flight_go_together_in_the_next() -> None:
    routing = GatedRouting()
    batches = RouteBatches(routing, max_batch=8, in_flight=1)
    texts = ["一号", "二号", "三号", "四号"]
    futures = route_all(batches, texts, first_in_flight=routing)
    settle(lambda: batches.waiting == 3)
    routing.gate.set()
    assert [future.result(WAIT_SECONDS) for future in futures] == texts  # each thread gets its own decision
    assert routing.calls[0] == ["一号"]
    assert sorted(routing.calls[1]) == sorted(texts[1:])
    assert len(routing.calls) == 2


def test_never_more_calls_in_flight_nor_tickets_in_a_call_than_allowed() -> None:
    routing = GatedRouting()
    batches = RouteBatches(routing, max_batch=2, in_flight=1)
    texts = [f"第{n}件" for n in range(6)]
    futures = route_all(batches, texts, first_in_flight=routing)
    settle(lambda: batches.waiting == 5)
    routing.gate.set()
    assert sorted(future.result(WAIT_SECONDS) for future in futures) == sorted(texts)
    assert [len(call) for call in routing.calls] == [1, 2, 2, 1]
    assert routing.most_running == 1


def test_an_invalid_ticket_fails_alone_and_the_others_of_its_batch_are_routed() -> None:
    routing = GatedRouting(bad=frozenset({"坏的"}))
    batches = RouteBatches(routing, max_batch=8, in_flight=1)
    futures = route_all(batches, ["先到", "好的", "坏的", "也好"], first_in_flight=routing)
    settle(lambda: batches.waiting == 3)
    routing.gate.set()
    assert [futures[i].result(WAIT_SECONDS) for i in (0, 1, 3)] == ["先到", "好的", "也好"]
    with pytest.raises(InvalidArgument):
        futures[2].result(WAIT_SECONDS)
    assert sorted(routing.calls[2:]) == [["也好"], ["坏的"], ["好的"]]  # the refused batch, sent again one by one


def test_routing_down_fails_every_ticket_of_the_batch_for_its_task_to_retry() -> None:
    routing = GatedRouting(down=True)
    batches = RouteBatches(routing, max_batch=8, in_flight=1)
    futures = route_all(batches, ["一号", "二号", "三号"], first_in_flight=routing)
    settle(lambda: batches.waiting == 2)
    routing.gate.set()
    for future in futures:
        with pytest.raises(Unavailable):
            future.result(WAIT_SECONDS)
    assert len(routing.calls) == 2
    # Nothing is left waiting or holding a slot: once routing is back, the next ticket goes at once.
    routing.down = False
    assert batches.route(text="四号", community="恒康居民区", building="").decision.category == "四号"
    assert routing.calls[-1] == ["四号"]
