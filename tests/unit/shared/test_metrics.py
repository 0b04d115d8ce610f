"""Metrics in process: RPC codes and request ids, routing and retrieval figures, intake's HTTP, queue and worker."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from celery import Celery
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from prometheus_client.registry import Collector

from linli.errors import NotFound
from linli.grpc_serving import ServerHandle, build_server
from linli.logs import current_log_context
from linli.metrics import RpcMetrics, ServerMetrics, ServiceMetrics, method_label
from linli.settings import GrpcTlsSettings
from linli.v1 import routing_pb2
from services.intake import metrics as intake_metrics
from services.intake import observability as intake_observability
from services.intake.database import Database
from services.intake.http_app import create_http_app
from services.intake.settings import IntakeSettings
from services.intake.tickets.validation import Submission
from services.intake.worker.celery_app import TRIAGE_TASK, CeleryTaskQueue, create_celery_app
from services.retrieval import metrics as retrieval_metrics
from services.retrieval import observability as retrieval_observability
from services.retrieval.cases import CaseFilter, CaseRecord
from services.retrieval.memory import CaseMemory
from services.retrieval.settings import RetrievalSettings
from services.retrieval.snapshots import SnapshotStore
from services.retrieval.store import CaseStore
from services.routing import metrics as routing_metrics
from services.routing import observability as routing_observability
from tests.tokens import as_resident
from tests.unit.fakes import HashEmbedder
from tests.unit.intake.fakes import Intake, decision, face_services, http_security, resolved_ticket

DASHBOARD = Path(__file__).resolve().parents[3] / "infra" / "grafana" / "linli-dashboard.json"
COMPLAINT = Submission(text="小区北门的路灯坏了一周了", community="恒康居民区", resident_id="r-1")

# Provides the `sqlite_ticket_database` fixture.
pytest_plugins = ["tests.unit.intake.database"]


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    """A sample's value, 0 when it was never recorded."""
    return registry.get_sample_value(name, labels) or 0.0


# --- the shared RPC interceptor -------------------------------------------------------------------------------


def test_method_label_keeps_service_and_method_only() -> None:
    assert method_label("/linli.v1.RetrievalService/SearchCases") == "RetrievalService/SearchCases"
    assert method_label("/grpc.health.v1.Health/Check") == "Health/Check"


def test_service_names_are_checked() -> None:
    with pytest.raises(ValueError, match="lower-case"):
        RpcMetrics("Retrieval-Service", CollectorRegistry())


@pytest.fixture
def echo_server() -> Iterator[tuple[ServerHandle, CollectorRegistry, list[dict[str, str]]]]:
    """A server with one method that records its log context and fails for an empty request."""
    registry = CollectorRegistry()
    seen: list[dict[str, str]] = []

    def echo(request: bytes, _context: grpc.ServicerContext) -> bytes:
        seen.append(dict(current_log_context()))
        if not request:
            raise NotFound("nothing to echo")
        return request

    handler = grpc.method_handlers_generic_handler("test.Echo", {"Say": grpc.unary_unary_rpc_method_handler(echo)})
    metrics = ServerMetrics(ServiceMetrics(RpcMetrics("echo", registry), registry), port=0)
    handle = build_server(
        host="127.0.0.1",
        port=0,
        workers=2,
        service_names=["test.Echo"],
        register=lambda server: server.add_generic_rpc_handlers((handler,)),
        metrics=metrics,
        tls=GrpcTlsSettings(),
    )
    yield handle, registry, seen
    handle.stop(0)


def test_rpcs_are_counted_by_final_code_and_scraped_over_http(
    echo_server: tuple[ServerHandle, CollectorRegistry, list[dict[str, str]]],
) -> None:
    handle, registry, seen = echo_server
    with grpc.insecure_channel(f"127.0.0.1:{handle.port}") as channel:
        say = channel.unary_unary("/test.Echo/Say", None, None)  # raw bytes both ways
        assert say(b"hi", metadata=(("x-request-id", "req-42"),), timeout=5) == b"hi"
        with pytest.raises(grpc.RpcError) as failed:
            say(b"", metadata=(("x-request-id", "bad id with spaces"),), timeout=5)
    assert failed.value.code() is grpc.StatusCode.NOT_FOUND
    assert sample(registry, "linli_echo_rpc_total", method="Echo/Say", code="OK") == 1
    assert sample(registry, "linli_echo_rpc_total", method="Echo/Say", code="NOT_FOUND") == 1
    assert sample(registry, "linli_echo_rpc_seconds_count", method="Echo/Say", code="OK") == 1
    # The caller's id reaches the log context; an implausible one is replaced by a fresh hex id.
    assert seen[0]["request_id"] == "req-42"
    assert re.fullmatch(r"[0-9a-f]{32}", seen[1]["request_id"])
    assert handle.metrics_port is not None
    scraped = httpx.get(f"http://127.0.0.1:{handle.metrics_port}/metrics", timeout=5).text
    assert 'linli_echo_rpc_total{code="NOT_FOUND",method="Echo/Say"} 1.0' in scraped


def test_the_metrics_endpoint_stops_with_the_server() -> None:
    registry = CollectorRegistry()
    handle = build_server(
        host="127.0.0.1",
        port=0,
        workers=1,
        service_names=[],
        register=lambda _server: None,
        metrics=ServerMetrics(ServiceMetrics(RpcMetrics("stops", registry), registry), port=0),
        tls=GrpcTlsSettings(),
    )
    port = handle.metrics_port
    assert port is not None
    handle.stop(0)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)


def test_a_taken_metrics_port_does_not_stop_the_server(
    echo_server: tuple[ServerHandle, CollectorRegistry, list[dict[str, str]]],
) -> None:
    taken = echo_server[0].metrics_port
    registry = CollectorRegistry()
    handle = build_server(
        host="127.0.0.1",
        port=0,
        workers=1,
        service_names=[],
        register=lambda _server: None,
        metrics=ServerMetrics(ServiceMetrics(RpcMetrics("second", registry), registry), port=taken),
        tls=GrpcTlsSettings(),
    )
    try:
        assert handle.port > 0
        assert handle.metrics_port is None
    finally:
        handle.stop(0)


# --- routing ----------------------------------------------------------------------------------------------------


def test_routing_counts_decisions_by_party_and_outcome() -> None:
    registry = routing_metrics.REGISTRY
    before = {
        "routed": sample(registry, "linli_routing_decisions_total", party="property_manager", outcome="routed"),
        "abstained": sample(registry, "linli_routing_decisions_total", party="none", outcome="abstained"),
        "other": sample(registry, "linli_routing_decisions_total", party="other", outcome="routed"),
        "emergency": sample(registry, "linli_routing_urgent_decisions_total", urgency="emergency"),
        "confidence": sample(registry, "linli_routing_confidence_count"),
        "low": sample(registry, "linli_routing_confidence_bucket", le="0.5"),
    }
    decisions = [
        routing_pb2.RoutingDecision(party="property_manager", confidence=0.9, urgency=routing_pb2.URGENCY_EMERGENCY),
        routing_pb2.RoutingDecision(abstained=True, confidence=0.4, router_version="case-vote-9"),
        routing_pb2.RoutingDecision(party="a_party_nobody_knows", confidence=0.7),
    ]
    routing_observability.observe_decisions(decisions, ("property_manager", "street_office"))
    assert sample(registry, "linli_routing_decisions_total", party="property_manager", outcome="routed") == (
        before["routed"] + 1
    )
    assert sample(registry, "linli_routing_decisions_total", party="none", outcome="abstained") == (
        before["abstained"] + 1
    )
    assert sample(registry, "linli_routing_decisions_total", party="other", outcome="routed") == before["other"] + 1
    assert sample(registry, "linli_routing_urgent_decisions_total", urgency="emergency") == before["emergency"] + 1
    assert sample(registry, "linli_routing_confidence_count") == before["confidence"] + 3
    assert sample(registry, "linli_routing_confidence_bucket", le="0.5") == before["low"] + 1
    assert sample(registry, "linli_routing_model_info", router_version="case-vote-9") == 1
    routing_observability.set_router_version("case-vote-1")
    assert sample(registry, "linli_routing_model_info", router_version="case-vote-9") == 0  # replaced, not added


# --- retrieval --------------------------------------------------------------------------------------------------


def small_memory(path: Path, size: int) -> CaseMemory:
    memory = CaseMemory(
        retrieval_observability.instrumented_embedder(HashEmbedder(32)),
        CaseStore.from_url(f"sqlite:///{path / 'cases.sqlite'}"),
        max_k=10,
        max_batch=64,
        snapshots=SnapshotStore(path / "snapshots"),
    )
    memory.upsert(
        [
            CaseRecord(f"c-{i}", f"第{i}号投诉:楼道灯坏了", "已修好", "property_manager", "恒康居民区")
            for i in range(size)
        ]
    )
    return memory


def collected(collector: Collector) -> dict[str, list[tuple[dict[str, str], float]]]:
    """name → [(labels, value)] of everything a collector yields."""
    return {family.name: [(s.labels, s.value) for s in family.samples] for family in collector.collect()}


def test_retrieval_shows_index_size_snapshot_age_and_model_batches(tmp_path: Path) -> None:
    registry = retrieval_metrics.REGISTRY
    batches = sample(registry, "linli_retrieval_embed_batch_size_count")
    texts = sample(registry, "linli_retrieval_embed_batch_size_sum")
    searches = sample(registry, "linli_retrieval_search_seconds_count", index="flat")
    memory = small_memory(tmp_path, 7)
    memory.search(text="楼道灯", k=3, case_filter=CaseFilter())
    assert sample(registry, "linli_retrieval_embed_batch_size_count") == batches + 2  # one upsert, one query
    assert sample(registry, "linli_retrieval_embed_batch_size_sum") == texts + 8
    assert sample(registry, "linli_retrieval_search_seconds_count", index="flat") == searches + 1

    settings = RetrievalSettings(index_dir=tmp_path, metrics_port=0)
    collector = retrieval_observability.server_metrics(settings, lambda: memory).collectors[0]
    assert "linli_retrieval_snapshot_age_seconds" not in collected(collector)  # no snapshot yet
    memory.snapshot()
    families = collected(collector)
    assert families["linli_retrieval_index_size"] == [({}, 7.0)]
    assert 0 <= families["linli_retrieval_snapshot_age_seconds"][0][1] < 60
    assert collected(retrieval_observability.IndexCollector(lambda: None, None)) == {}  # still loading: nothing


# --- intake -----------------------------------------------------------------------------------------------------


@pytest.fixture
def database(sqlite_ticket_database: Database) -> Database:
    return sqlite_ticket_database


@pytest.fixture
def broker_url(tmp_path: Path) -> str:
    return f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}"


@pytest.fixture
def client(database: Database, broker_url: str) -> TestClient:
    intake = Intake(database)
    ready = threading.Event()
    ready.set()
    app = create_http_app(intake.flows, http_security(), database, ready, faces=face_services(intake.flows, database))
    intake_observability.instrument_http(app, database=database, broker_url=broker_url)
    return TestClient(app, headers=as_resident("r-1"))


def test_http_requests_are_labelled_by_route_template_and_carry_a_request_id(client: TestClient) -> None:
    registry = intake_metrics.API_REGISTRY
    route = "/v1/tickets/{ticket_id}"
    missing = sample(registry, "linli_intake_http_requests_total", method="GET", route=route, status="404")
    submitted = sample(registry, "linli_intake_tickets_submitted_total")
    created = client.post("/v1/tickets", json={"text": "路灯坏了", "community": "恒康居民区"})
    assert created.status_code == 201
    assert re.fullmatch(r"[0-9a-f]{32}", created.headers["x-request-id"])
    replay = client.get("/v1/tickets/no-such-ticket", headers={"X-Request-ID": "trace-7"})
    assert (replay.status_code, replay.headers["x-request-id"]) == (404, "trace-7")
    assert sample(registry, "linli_intake_http_requests_total", method="GET", route=route, status="404") == (
        missing + 1
    )
    assert sample(registry, "linli_intake_tickets_submitted_total") == submitted + 1
    client.get("/no/such/path")
    scraped = client.get("/metrics").text
    assert 'route="unmatched"' in scraped
    assert "no-such-ticket" not in scraped  # ids never become labels
    assert 'linli_intake_tickets{status="received"} 1.0' in scraped
    assert 'linli_intake_tickets{status="closed"} 0.0' in scraped


def test_queue_depth_counts_waiting_triage_messages(broker_url: str, tmp_path: Path) -> None:
    collector = intake_observability.QueueDepthCollector(broker_url)
    assert collected(collector)["linli_intake_queue_depth"] == [
        ({"queue": "triage"}, 0.0),
        ({"queue": "lifecycle"}, 0.0),
    ]
    settings = IntakeSettings(broker_url=broker_url, database_url=f"sqlite:///{tmp_path / 'x.sqlite'}")
    queue = CeleryTaskQueue(create_celery_app(settings))
    queue.enqueue_triage("t-1")
    queue.enqueue_triage("t-2")
    queue.enqueue_case_sync("t-1")
    families = collected(collector)
    assert families["linli_intake_queue_depth"] == [({"queue": "triage"}, 2.0), ({"queue": "lifecycle"}, 1.0)]
    assert families["linli_intake_broker_up"] == [({}, 1.0)]


def test_an_unreachable_broker_shows_as_down() -> None:
    families = collected(intake_observability.QueueDepthCollector("redis://127.0.0.1:1/0"))
    assert families == {"linli_intake_broker_up": [({}, 0.0)]}


def test_triage_latency_and_sla_breaches_are_recorded_after_commit(database: Database) -> None:
    registry = intake_metrics.WORKER_REGISTRY
    routed = sample(registry, "linli_intake_triage_seconds_count", outcome="routed")
    manual = sample(registry, "linli_intake_triage_seconds_count", outcome="needs_manual")
    breaches = sample(registry, "linli_intake_sla_breaches_total", level="community")
    intake = Intake(database)
    first = intake.flows.submit(COMPLAINT)[0].ticket.id
    second = intake.flows.submit(Submission(text="楼上漏水到我家厨房", community="恒康居民区", resident_id="r-2"))[0]
    intake.triage.record_triage(first, decision(sla_hours=24))
    intake.triage.send_to_manual(second.ticket.id, reason="routing down")
    assert sample(registry, "linli_intake_triage_seconds_count", outcome="routed") == routed + 1
    assert sample(registry, "linli_intake_triage_seconds_count", outcome="needs_manual") == manual + 1
    intake.clock.now += timedelta(days=10)
    assert intake.sweeps.escalate_overdue() == 2
    assert sample(registry, "linli_intake_sla_breaches_total", level="community") == breaches + 2


def test_tickets_closed_unrated_are_counted(database: Database) -> None:
    registry = intake_metrics.WORKER_REGISTRY
    before = sample(registry, "linli_intake_auto_closed_total")
    intake = Intake(database)
    for text in ("楼道灯坏了", "电梯按钮失灵"):
        resolved_ticket(intake, text)
    intake.clock.now += timedelta(days=8)
    assert intake.sweeps.close_unrated() == 2
    assert sample(registry, "linli_intake_auto_closed_total") == before + 2
    assert intake.sweeps.close_unrated() == 0
    assert sample(registry, "linli_intake_auto_closed_total") == before + 2


def test_the_worker_binds_the_ticket_id_and_times_its_tasks(tmp_path: Path) -> None:
    app = Celery("metrics-test", broker="memory://", set_as_current=False)
    app.conf.task_always_eager = True
    seen: list[dict[str, str]] = []

    @app.task(name=TRIAGE_TASK)  # type: ignore[untyped-decorator]
    def triage(ticket_id: str) -> str:
        seen.append(dict(current_log_context()))
        return ticket_id

    settings = IntakeSettings(worker_metrics_port=0, database_url=f"sqlite:///{tmp_path / 'x.sqlite'}")
    endpoint = intake_observability.instrument_worker(app, settings)
    assert endpoint is not None
    try:
        runs = sample(
            intake_metrics.WORKER_REGISTRY, "linli_intake_task_seconds_count", task=TRIAGE_TASK, state="SUCCESS"
        )
        triage.delay("t-123")
        assert seen == [{"ticket_id": "t-123"}]
        assert current_log_context() == {}  # unbound once the task ended
        assert (
            sample(intake_metrics.WORKER_REGISTRY, "linli_intake_task_seconds_count", task=TRIAGE_TASK, state="SUCCESS")
            == runs + 1
        )
        scraped = httpx.get(f"http://127.0.0.1:{endpoint.port}/metrics", timeout=5).text
        assert "linli_intake_task_seconds_count" in scraped
    finally:
        endpoint.stop()


# --- the dashboard ----------------------------------------------------------------------------------------------


def known_metric_names(tmp_path: Path, database: Database, broker_url: str) -> set[str]:
    """Every sample name the services expose, scrape-time collectors included."""
    memory = small_memory(tmp_path, 2)
    memory.snapshot()
    registries: list[Any] = [
        retrieval_metrics.REGISTRY,
        routing_metrics.REGISTRY,
        intake_metrics.API_REGISTRY,
        intake_metrics.WORKER_REGISTRY,
        retrieval_observability.IndexCollector(lambda: memory, SnapshotStore(tmp_path / "snapshots")),
        intake_observability.TicketStatusCollector(database),
        intake_observability.QueueDepthCollector(broker_url),
    ]
    names: set[str] = set()
    for source in registries:
        for family in source.collect():
            names.add(family.name)
            names.update(s.name for s in family.samples)
            if family.type == "counter":
                names.add(f"{family.name}_total")
            if family.type == "histogram":
                names.update(f"{family.name}_{suffix}" for suffix in ("bucket", "count", "sum"))
    return names


def dashboard_queries(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("expr", "query") and isinstance(value, str):
                yield value
            else:
                yield from dashboard_queries(value)
    elif isinstance(node, list):
        for item in node:
            yield from dashboard_queries(item)


def test_every_metric_of_the_dashboard_exists(tmp_path: Path, database: Database, broker_url: str) -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert dashboard["schemaVersion"] >= 36
    assert any(v["type"] == "datasource" and v["query"] == "prometheus" for v in dashboard["templating"]["list"])
    queries = list(dashboard_queries(dashboard["panels"]))
    used = {name for query in queries for name in re.findall(r"\blinli_[a-z_]+\b", query)}
    assert len(used) >= 12
    assert used - known_metric_names(tmp_path, database, broker_url) == set()
    titles = " ".join(panel["title"] for panel in dashboard["panels"])
    for topic in ("RPC latency", "error", "Triage latency", "Queue depth", "confidence", "Abstain", "Index size",
                  "SLA", "5xx"):  # fmt: skip
        assert topic in titles, topic


def test_log_lines_of_a_sync_endpoint_carry_the_request_id(database: Database, broker_url: str) -> None:
    app = FastAPI()

    @app.get("/context")
    def context() -> dict[str, str]:  # sync: FastAPI runs it on a worker thread
        return dict(current_log_context())

    intake_observability.instrument_http(app, database=database, broker_url=broker_url)
    reply = TestClient(app).get("/context", headers={"X-Request-ID": "abc-1"})
    assert reply.json() == {"request_id": "abc-1"}
    assert reply.headers["x-request-id"] == "abc-1"
