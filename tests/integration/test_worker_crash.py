"""SIGKILL the Celery worker in the middle of triage: after a new worker starts, no ticket is lost or routed twice."""

from __future__ import annotations

import collections
import os
import signal
import threading
import time
from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest
from sqlalchemy import select

from linli.grpc_serving import ServerHandle
from linli.v1 import routing_pb2, routing_pb2_grpc
from services.intake.settings import IntakeSettings
from services.intake.tickets.models import Ticket, TicketEvent
from tests.integration.conftest import ChildProcesses, running_intake, wait_until
from tests.tokens import as_resident, as_service

pytestmark = pytest.mark.integration

TICKETS = 16
ROUTING_DELAY_SECONDS = 1.5
COMPLAINTS = [
    "3号楼楼道灯坏了一个星期了,晚上黑漆漆的",
    "5号楼电梯停在3楼不动,里面好像没人",
    "小区门口人行道被铁皮棚子占了",
    "楼上装修天天一大早打电钻",
    "地下车库入口积水很深",
    "楼下饭店油烟太大熏得开不了窗",
    "业委会换届选举一直拖着不办",
    "垃圾房好几天没清运了,臭得很",
    "小区东门的路灯坏了",
    "消防通道被私家车堵住了",
    "物业维修基金使用不公开",
    "12号楼门口下水道堵了",
    "小区里流浪狗追着孩子咬",
    "楼道里有人给电动车充电,电线从窗户拉下来",
    "健身器材单杠松动了,很危险",
    "小区外马路上的窨井盖不见了",
]


class SlowRouting(routing_pb2_grpc.RoutingServiceServicer):
    """Routing behind a delay, so that triage tasks are in flight when the worker dies; counts calls per text."""

    def __init__(self, target: str) -> None:
        self._stub = routing_pb2_grpc.RoutingServiceStub(as_service(grpc.insecure_channel(target)))
        self._lock = threading.Lock()
        self.in_flight = 0
        self.calls: collections.Counter[str] = collections.Counter()

    def Route(self, request: routing_pb2.RouteRequest, context: grpc.ServicerContext) -> routing_pb2.RouteResponse:  # noqa: N802
        with self._lock:
            self.in_flight += 1
            self.calls[request.complaint.text] += 1
        try:
            time.sleep(ROUTING_DELAY_SECONDS)
            response: routing_pb2.RouteResponse = self._stub.Route(request, timeout=10)
            return response
        finally:
            with self._lock:
                self.in_flight -= 1


@pytest.fixture
def slow_routing(routing_server: ServerHandle) -> Iterator[tuple[SlowRouting, int]]:
    servicer = SlowRouting(f"127.0.0.1:{routing_server.port}")
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    routing_pb2_grpc.add_RoutingServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield servicer, port
    server.stop(0)


def test_a_worker_killed_mid_triage_loses_nothing_and_routes_nothing_twice(
    postgres_intake_settings: IntakeSettings, slow_routing: tuple[SlowRouting, int], children: ChildProcesses
) -> None:
    routing, port = slow_routing
    settings = postgres_intake_settings.model_copy(
        update={
            "routing_target": f"127.0.0.1:{port}",
            "triage_time_limit_seconds": 5,
            # Short, so the killed worker's unacknowledged messages come back within the test.
            "broker_visibility_timeout_seconds": 8,
            "worker_concurrency": 4,
            "duplicate_window_hours": 0.0,  # every ticket must end routed or in the manual queue, none merged
        }
    )
    with running_intake(settings) as intake:
        first_worker = children.start("worker", settings)
        ids = [
            intake.http.post(
                "/v1/tickets", json={"text": text, "community": "恒康居民区"}, headers=as_resident(f"r-{n}")
            ).json()["id"]
            for n, text in enumerate(COMPLAINTS[:TICKETS])
        ]

        def triaged() -> list[Ticket]:
            with intake.server.database.unit_of_work() as session:
                return [t for t in session.scalars(select(Ticket)) if t.status != "received"]

        wait_until(lambda: routing.in_flight > 0 and len(triaged()) >= 2, seconds=60, what="triage under way")
        in_flight_at_kill = routing.in_flight
        os.kill(first_worker.pid, signal.SIGKILL)
        first_worker.wait(timeout=10)
        waiting_at_kill = TICKETS - len(triaged())
        assert in_flight_at_kill > 0, "the kill must hit tasks in the middle of triage"
        assert waiting_at_kill > 0

        children.start("worker", settings)
        wait_until(lambda: len(triaged()) == TICKETS, seconds=90, what="every ticket to be triaged after the crash")

        with intake.server.database.unit_of_work() as session:
            tickets = {t.id: t for t in session.scalars(select(Ticket))}
            events = list(session.scalars(select(TicketEvent).where(TicketEvent.kind.in_(["routed", "needs_manual"]))))
        assert sorted(tickets) == sorted(ids)
        assert {t.status for t in tickets.values()} <= {"routed", "needs_manual"}
        decisions = collections.Counter(event.ticket_id for event in events)
        assert all(decisions[ticket_id] == 1 for ticket_id in ids), decisions
        parties = {event.ticket_id: event.to_party for event in events}
        assert all(tickets[t].party == parties[t] for t in ids)
        # The tasks killed in flight were delivered again: routing was asked more often than there are tickets.
        assert sum(routing.calls.values()) > TICKETS
