"""The worker's triage threads route their tickets together: calls made while one is in flight share the next."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from linli.clients.routing import RoutedComplaint, RoutesComplaints
from linli.errors import InvalidArgument, Unavailable
from linli.v1 import routing_pb2
from services.intake.metrics import ROUTE_BATCH_SIZE


class BatchRouting(RoutesComplaints, Protocol):
    """What RouteBatches calls: routing's client (linli/clients/routing.py), a Route call or a BatchRoute call."""

    def route_many(self, complaints: Sequence[routing_pb2.Complaint]) -> list[RoutedComplaint]:
        """Several complaints' decisions, in order: a BatchRoute call."""


@dataclass
class _Call:
    complaint: routing_pb2.Complaint
    routed: RoutedComplaint | None = None
    error: Exception | None = None
    # Handed to the call that heads the next batch: its thread sends it.
    batch: list[_Call] | None = None
    wake: threading.Event = field(default_factory=threading.Event)

    def outcome(self) -> RoutedComplaint:
        if self.routed is not None:
            return self.routed
        raise self.error or Unavailable("the call to routing that carried this ticket ended without an answer")


class RouteBatches:
    """Routes complaints for many threads, sending those that wait together as one BatchRoute call.

    At most `in_flight` calls to routing are in flight at once. A complaint goes at once while fewer are, so a lone
    ticket never waits for company; the complaints that arrive while all are busy wait, and go together (at most
    `max_batch`) as the next call when one returns, sent by the thread of the first of them. In a burst the
    worker's threads so share each call's fixed cost: the round trips to routing and on to retrieval, their
    interceptors, the read of the precedents' cases. A batch of one is a plain Route call. When routing refuses a
    batch as invalid, each of its complaints is sent again alone, so that only the bad one fails; any other error
    (routing unavailable) fails every complaint of the batch, and each task retries its own ticket as alone.
    """

    def __init__(self, client: BatchRouting, *, max_batch: int, in_flight: int) -> None:
        if max_batch < 1 or in_flight < 1:
            raise ValueError(f"max_batch and in_flight must be >= 1, got {max_batch} and {in_flight}")
        self._client = client
        self._max_batch = max_batch
        self._max_in_flight = in_flight
        self._lock = threading.Lock()
        # Calls wait only while every slot is taken: a slot that frees goes to the next batch of them.
        self._waiting: deque[_Call] = deque()
        self._in_flight = 0

    @property
    def waiting(self) -> int:
        """Tickets waiting for a call to routing to return, to go together in the next."""
        with self._lock:
            return len(self._waiting)

    def route(self, *, text: str, community: str, building: str) -> RoutedComplaint:
        """Routing's decision for one complaint, and its text's vector; raises as `RoutingClient.route` does."""
        call = _Call(routing_pb2.Complaint(text=text, community=community, building=building))
        with self._lock:
            if self._in_flight < self._max_in_flight:
                self._in_flight += 1
                batch: list[_Call] | None = [call]
            else:
                self._waiting.append(call)
                batch = None
        if batch is None:
            call.wake.wait()
            if call.batch is None:  # another thread sent it
                return call.outcome()
            batch = call.batch
        try:
            self._send(batch)
        finally:
            self._hand_on()
        return call.outcome()

    def _hand_on(self) -> None:
        """Gives the slot this thread held to the calls waiting, as one batch, or frees it."""
        with self._lock:
            if not self._waiting:
                self._in_flight -= 1
                return
            batch = [self._waiting.popleft() for _ in range(min(self._max_batch, len(self._waiting)))]
            batch[0].batch = batch
        batch[0].wake.set()

    def _send(self, batch: list[_Call]) -> None:
        ROUTE_BATCH_SIZE.observe(len(batch))
        try:
            if len(batch) == 1:
                self._send_alone(batch[0])
                return
            try:
                routed = self._client.route_many([call.complaint for call in batch])
                if len(routed) != len(batch):
                    raise Unavailable(f"routing answered {len(routed)} decisions for {len(batch)} complaints")
            except InvalidArgument:
                for call in batch:
                    self._send_alone(call)
                return
            except Exception as error:  # each waiting task raises it as its own
                for call in batch:
                    call.error = error
                return
            for call, answer in zip(batch, routed, strict=True):
                call.routed = answer
        finally:
            for call in batch[1:]:
                call.wake.set()

    def _send_alone(self, call: _Call) -> None:
        complaint = call.complaint
        try:
            call.routed = self._client.route(
                text=complaint.text, community=complaint.community, building=complaint.building
            )
        except Exception as error:  # the waiting task raises it as its own
            call.error = error
