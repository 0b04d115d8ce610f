"""/metrics of every running service after real calls: retrieval, routing, intake's HTTP app and the Celery worker."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from linli.grpc_serving import ServerHandle
from linli.v1 import retrieval_pb2, retrieval_pb2_grpc, routing_pb2, routing_pb2_grpc
from services.intake.settings import IntakeSettings
from tests.conftest import free_port
from tests.integration.conftest import RunningIntake, wait_until
from tests.tokens import as_resident, as_service

# The session's retrieval and routing servers are built with default settings; a free metrics port (0) keeps
# parallel test runs on one machine from fighting over 9102/9103. Set before any fixture builds its settings.
os.environ.setdefault("LINLI_RETRIEVAL_METRICS_PORT", "0")
os.environ.setdefault("LINLI_ROUTING_METRICS_PORT", "0")

pytestmark = pytest.mark.integration

TRIAGE_SECONDS = 60.0
COMPLAINT = {
    "text": "3号楼2单元楼道的灯坏了一个多星期了,晚上上下楼黑漆漆的,麻烦物业尽快来修一下",
    "community": "恒康居民区",
    "building": "3号楼",
}
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str) -> Samples:
    """Every sample of a /metrics page, keyed by name and labels."""
    reply = httpx.get(url, timeout=10)
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(reply.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples named `name` whose labels include `labels` (0 if none)."""
    wanted = set(labels.items())
    return sum(v for (n, have), v in samples.items() if n == name and wanted <= have)


def metrics_url(handle: ServerHandle) -> str:
    assert handle.metrics_port is not None, "the server has no metrics endpoint"
    return f"http://127.0.0.1:{handle.metrics_port}/metrics"


def test_retrieval_metrics_after_searches(retrieval_server: ServerHandle) -> None:
    before = scrape(metrics_url(retrieval_server))
    with as_service(grpc.insecure_channel(f"127.0.0.1:{retrieval_server.port}")) as channel:
        retrieval = retrieval_pb2_grpc.RetrievalServiceStub(channel)
        for text in ("楼道灯坏了", "车库进水了"):
            retrieval.SearchCases(retrieval_pb2.SearchCasesRequest(text=text, k=3), timeout=30)
        with pytest.raises(grpc.RpcError):
            retrieval.SearchCases(retrieval_pb2.SearchCasesRequest(text="灯", k=0), timeout=10)
        stats = retrieval.GetIndexStats(retrieval_pb2.GetIndexStatsRequest(), timeout=10)
    after = scrape(metrics_url(retrieval_server))
    search = {"method": "RetrievalService/SearchCases"}
    ok = value(after, "linli_retrieval_rpc_total", **search, code="OK")
    assert ok - value(before, "linli_retrieval_rpc_total", **search, code="OK") == 2
    assert value(after, "linli_retrieval_rpc_total", **search, code="INVALID_ARGUMENT") >= 1
    assert value(after, "linli_retrieval_rpc_seconds_count", **search, code="OK") == ok
    assert stats.case_count > 0
    assert value(after, "linli_retrieval_index_size") == stats.case_count
    assert (
        value(after, "linli_retrieval_embed_batch_size_count")
        >= value(before, "linli_retrieval_embed_batch_size_count") + 1
    )
    assert (
        value(after, "linli_retrieval_search_seconds_count")
        >= value(before, "linli_retrieval_search_seconds_count") + 2
    )
    assert value(after, "linli_retrieval_snapshot_age_seconds") >= 0


def test_routing_metrics_after_decisions(routing_server: ServerHandle) -> None:
    before = scrape(metrics_url(routing_server))
    with as_service(grpc.insecure_channel(f"127.0.0.1:{routing_server.port}")) as channel:
        routing = routing_pb2_grpc.RoutingServiceStub(channel)
        for text in ("楼道的灯坏了好几天了", "小区里有人在公共绿地上种菜"):
            routing.Route(routing_pb2.RouteRequest(complaint=routing_pb2.Complaint(text=text)), timeout=30)
    after = scrape(metrics_url(routing_server))
    route = {"method": "RoutingService/Route", "code": "OK"}
    assert value(after, "linli_routing_rpc_total", **route) - value(before, "linli_routing_rpc_total", **route) == 2
    decided = value(after, "linli_routing_decisions_total") - value(before, "linli_routing_decisions_total")
    assert decided == 2
    assert value(after, "linli_routing_confidence_count") - value(before, "linli_routing_confidence_count") == 2
    assert value(after, "linli_routing_model_info") == 1


@pytest.fixture
def intake_settings(intake_settings: IntakeSettings) -> IntakeSettings:
    """The shared intake settings with a free port for the worker's metrics."""
    return intake_settings.model_copy(update={"worker_metrics_port": free_port()})


def test_intake_and_worker_metrics_follow_tickets_through_triage(
    intake: RunningIntake, start_worker: Callable[[], subprocess.Popen[bytes]]
) -> None:
    ids: list[tuple[str, dict[str, str]]] = []
    for resident in ("r-metrics-1", "r-metrics-2"):
        reply = intake.http.post(
            "/v1/tickets", json=COMPLAINT, headers={**as_resident(resident), "X-Request-ID": "m-1"}
        )
        assert reply.status_code == 201, reply.text
        assert reply.headers["x-request-id"] == "m-1"
        ids.append((reply.json()["id"], as_resident(resident)))
    queued = scrape(f"http://127.0.0.1:{intake.settings.http_port}/metrics")
    # No worker yet: both triage messages wait in Redis.
    assert value(queued, "linli_intake_queue_depth", queue="triage") == 2
    assert value(queued, "linli_intake_broker_up") == 1
    assert value(queued, "linli_intake_tickets", status="received") == 2
    assert value(queued, "linli_intake_tickets_submitted_total") >= 2
    created = {"method": "POST", "route": "/v1/tickets", "status": "201"}
    assert value(queued, "linli_intake_http_requests_total", **created) >= 2

    start_worker()

    def all_triaged() -> bool:
        return all(intake.http.get(f"/v1/tickets/{i}", headers=who).json()["status"] != "received" for i, who in ids)

    wait_until(all_triaged, seconds=TRIAGE_SECONDS, what="both tickets to be triaged")
    with grpc.insecure_channel(intake.grpc_target) as channel:
        health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
    served = scrape(f"http://127.0.0.1:{intake.settings.http_port}/metrics")
    assert value(served, "linli_intake_queue_depth", queue="triage") == 0
    assert value(served, "linli_intake_tickets", status="received") == 0
    assert value(served, "linli_intake_rpc_total", method="Health/Check", code="OK") >= 1
    fetched = {"method": "GET", "route": "/v1/tickets/{ticket_id}", "status": "200"}
    assert value(served, "linli_intake_http_requests_total", **fetched) >= 2
    assert not any(ticket_id in str(labels) for (_, labels) in served for ticket_id, _ in ids)

    worker = f"http://127.0.0.1:{intake.settings.worker_metrics_port}/metrics"
    wait_until(lambda: _answers(worker), seconds=30, what="the worker's metrics endpoint")
    samples = scrape(worker)
    assert value(samples, "linli_intake_triage_seconds_count") == 2
    assert 0 < value(samples, "linli_intake_triage_seconds_sum") < 2 * TRIAGE_SECONDS
    assert value(samples, "linli_intake_task_seconds_count", task="linli.triage", state="SUCCESS") == 2


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
