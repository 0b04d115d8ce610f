"""The retrieval and routing gRPC servers on real ports: health, reflection, RPCs and their errors."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from linli.grpc_health import check_health
from linli.grpc_serving import ServerHandle
from linli.settings import GrpcTlsSettings
from linli.v1 import cases_pb2, retrieval_pb2, retrieval_pb2_grpc, routing_pb2, routing_pb2_grpc
from tests.tokens import as_service, service_metadata

pytestmark = pytest.mark.integration
# Changing the index is an admin RPC: the tests call it as a service would.
ADMIN = service_metadata()


@pytest.fixture
def retrieval(retrieval_server: ServerHandle) -> Iterator[retrieval_pb2_grpc.RetrievalServiceStub]:
    with as_service(grpc.insecure_channel(f"127.0.0.1:{retrieval_server.port}")) as channel:
        yield retrieval_pb2_grpc.RetrievalServiceStub(channel)


@pytest.fixture
def routing(routing_server: ServerHandle) -> Iterator[routing_pb2_grpc.RoutingServiceStub]:
    with as_service(grpc.insecure_channel(f"127.0.0.1:{routing_server.port}")) as channel:
        yield routing_pb2_grpc.RoutingServiceStub(channel)


def test_health_answers_serving(retrieval_server: ServerHandle, routing_server: ServerHandle) -> None:
    assert check_health(f"127.0.0.1:{retrieval_server.port}", tls=GrpcTlsSettings()) == "SERVING"
    assert (
        check_health(f"127.0.0.1:{retrieval_server.port}", "linli.v1.RetrievalService", tls=GrpcTlsSettings())
        == "SERVING"
    )
    assert (
        check_health(f"127.0.0.1:{routing_server.port}", "linli.v1.RoutingService", tls=GrpcTlsSettings()) == "SERVING"
    )


def test_reflection_lists_the_services(routing_server: ServerHandle) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{routing_server.port}") as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        replies = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
        names = {service.name for reply in replies for service in reply.list_services_response.service}
    assert {"linli.v1.RoutingService", "grpc.health.v1.Health"} <= names


def test_search_finds_a_similar_resolved_case(retrieval: retrieval_pb2_grpc.RetrievalServiceStub) -> None:
    reply = retrieval.SearchCases(
        retrieval_pb2.SearchCasesRequest(
            text="电梯坏了,有人被关在里面", k=3, filter=cases_pb2.CaseFilter(resolved_only=True)
        ),
        timeout=10,
    )
    assert len(reply.results) == 3
    assert reply.results[0].case.party == "property_manager"
    assert reply.results[0].case.resolution
    assert reply.model == "m3e-small"


def test_embed_returns_normalised_vectors(retrieval: retrieval_pb2_grpc.RetrievalServiceStub) -> None:
    reply = retrieval.Embed(retrieval_pb2.EmbedRequest(texts=["楼道灯坏了", "加装电梯"]), timeout=10)
    assert reply.dimension == 512
    assert [len(e.values) for e in reply.embeddings] == [512, 512]
    assert abs(sum(v * v for v in reply.embeddings[0].values) - 1.0) < 1e-3


def test_upsert_then_delete(retrieval: retrieval_pb2_grpc.RetrievalServiceStub) -> None:
    case = cases_pb2.Case(
        id="it-1",
        complaint="地下车库积水很深",
        resolution="物业抽水并疏通排水沟",
        party="property_manager",
        community="绿岛花园",
    )
    before = retrieval.GetIndexStats(retrieval_pb2.GetIndexStatsRequest(), timeout=10).case_count
    assert (
        retrieval.UpsertCases(retrieval_pb2.UpsertCasesRequest(cases=[case]), timeout=10, metadata=ADMIN).case_count
        == before + 1
    )
    # Scoped to the new case's community: the seeded corpus holds garage floods too, which may rank first overall.
    search = retrieval_pb2.SearchCasesRequest(text="车库进水了", k=1, filter=cases_pb2.CaseFilter(community="绿岛花园"))
    top = retrieval.SearchCases(search, timeout=10).results[0]
    assert top.case.id == "it-1"
    deleted = retrieval.DeleteCases(retrieval_pb2.DeleteCasesRequest(case_ids=["it-1"]), timeout=10, metadata=ADMIN)
    assert (deleted.deleted, deleted.case_count) == (1, before)


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        (retrieval_pb2.SearchCasesRequest(text="", k=3), grpc.StatusCode.INVALID_ARGUMENT),
        (retrieval_pb2.SearchCasesRequest(text="灯", k=0), grpc.StatusCode.INVALID_ARGUMENT),
        (retrieval_pb2.SearchCasesRequest(text="灯", k=10_000), grpc.StatusCode.INVALID_ARGUMENT),
        (
            retrieval_pb2.SearchCasesRequest(vector=retrieval_pb2.Embedding(values=[0.1, 0.2]), k=3),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            retrieval_pb2.SearchCasesRequest(text="灯", k=3, filter=cases_pb2.CaseFilter(party="martians")),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
    ],
)
def test_bad_searches_are_invalid_argument(
    retrieval: retrieval_pb2_grpc.RetrievalServiceStub,
    request_: retrieval_pb2.SearchCasesRequest,
    code: grpc.StatusCode,
) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        retrieval.SearchCases(request_, timeout=10)
    assert raised.value.code() == code


def test_moving_a_case_to_another_community_is_already_exists(
    retrieval: retrieval_pb2_grpc.RetrievalServiceStub,
) -> None:
    first = retrieval.SearchCases(retrieval_pb2.SearchCasesRequest(text="楼道灯", k=1), timeout=10).results[0].case
    moved = cases_pb2.Case()
    moved.CopyFrom(first)
    moved.community = "别的小区"
    with pytest.raises(grpc.RpcError) as raised:
        retrieval.UpsertCases(retrieval_pb2.UpsertCasesRequest(cases=[moved]), timeout=10, metadata=ADMIN)
    assert raised.value.code() == grpc.StatusCode.ALREADY_EXISTS


def test_route_gives_party_confidence_alternatives_and_precedents(
    routing: routing_pb2_grpc.RoutingServiceStub,
) -> None:
    reply = routing.Route(
        routing_pb2.RouteRequest(
            complaint=routing_pb2.Complaint(text="电梯坏了三天了也没人修,老人上下楼太难", community="恒康居民区")
        ),
        timeout=10,
    )
    decision = reply.decision
    assert decision.similar_cases
    assert abs(sum(a.probability for a in decision.alternatives) - 1.0) < 1e-6
    assert [a.probability for a in decision.alternatives] == sorted(
        (a.probability for a in decision.alternatives), reverse=True
    )
    assert decision.rationale.summary
    if not decision.abstained:
        assert decision.party == decision.alternatives[0].party == "property_manager"
        assert decision.suggested_resolution
        # Whichever signal decided, the rationale shows its opinion beside the others'.
        opinions = {o.signal for o in decision.rationale.opinions}
        assert decision.rationale.deciding_signal in opinions
        assert routing_pb2.DECIDING_SIGNAL_CATALOG in opinions
        assert decision.rationale.catalog_entry.party == "property_manager"


def test_a_batch_of_searches_answers_each_as_alone_and_names_a_bad_one(
    retrieval: retrieval_pb2_grpc.RetrievalServiceStub,
) -> None:
    resolved = cases_pb2.CaseFilter(resolved_only=True)
    searches = [
        retrieval_pb2.SearchCasesRequest(
            text="电梯坏了,有人被关在里面", k=3, filter=resolved, include_query_vector=True
        ),
        retrieval_pb2.SearchCasesRequest(text="楼上漏水,天花板都湿了", k=5),
    ]
    alone = [retrieval.SearchCases(search, timeout=30) for search in searches]
    together = retrieval.BatchSearchCases(retrieval_pb2.BatchSearchCasesRequest(searches=searches), timeout=30)
    assert [[hit.case.id for hit in reply.results] for reply in together.results] == [
        [hit.case.id for hit in reply.results] for reply in alone
    ]
    assert len(together.results[0].query_vector.values) == len(alone[0].query_vector.values) > 0
    assert not together.results[1].query_vector.values  # not asked for
    bad = [searches[0], retrieval_pb2.SearchCasesRequest(text="楼上漏水", k=0)]
    for request, field in (
        (retrieval_pb2.BatchSearchCasesRequest(searches=bad), "searches[1].k"),
        (retrieval_pb2.BatchSearchCasesRequest(), "searches"),
    ):
        with pytest.raises(grpc.RpcError) as raised:
            retrieval.BatchSearchCases(request, timeout=10)
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field in (raised.value.details() or "")


def test_batch_route_answers_in_order_and_names_bad_items(routing: routing_pb2_grpc.RoutingServiceStub) -> None:
    texts = ["楼道灯坏了", "小区外面马路上有人违章搭建", "维修基金怎么用"]
    reply = routing.BatchRoute(
        routing_pb2.BatchRouteRequest(complaints=[routing_pb2.Complaint(text=t) for t in texts]), timeout=30
    )
    assert len(reply.decisions) == 3
    with pytest.raises(grpc.RpcError) as raised:
        routing.BatchRoute(
            routing_pb2.BatchRouteRequest(
                complaints=[routing_pb2.Complaint(text="灯坏了"), routing_pb2.Complaint(text=" ")]
            ),
            timeout=10,
        )
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "complaints[1].text" in (raised.value.details() or "")


def test_reloading_under_concurrent_searches_fails_no_request(
    retrieval: retrieval_pb2_grpc.RetrievalServiceStub,
) -> None:
    retrieval.SnapshotIndex(retrieval_pb2.SnapshotIndexRequest(), timeout=30, metadata=ADMIN)
    texts = ["楼道灯坏了", "电梯坏了有人被关在里面", "楼上漏水", "消防通道被占", "小区门口违章停车"]
    stop = threading.Event()
    answered: list[int] = []  # one entry per completed search (list.append is atomic)
    failures: list[str] = []

    def search_until_stopped(worker: int) -> None:
        while not stop.is_set():
            request = retrieval_pb2.SearchCasesRequest(text=texts[(worker + len(answered)) % len(texts)], k=5)
            try:
                if len(retrieval.SearchCases(request, timeout=30).results) != 5:
                    failures.append("fewer than 5 results")
            except grpc.RpcError as error:
                failures.append(f"{error.code()}: {error.details()}")
            answered.append(worker)

    with ThreadPoolExecutor(max_workers=6) as pool:
        searchers = [pool.submit(search_until_stopped, worker) for worker in range(6)]
        try:
            while len(answered) < 6:  # every searcher is under way before the first reload
                time.sleep(0.01)
            before, deadline = len(answered), time.monotonic() + 60
            reloads: list[retrieval_pb2.ReloadIndexResponse] = []
            # Reloads are far quicker than a search (which embeds its text): keep reloading until many searches
            # have come and gone meanwhile, so that swaps land in every stage of a search.
            while (len(reloads) < 8 or len(answered) - before < 30) and time.monotonic() < deadline:
                reloads.append(retrieval.ReloadIndex(retrieval_pb2.ReloadIndexRequest(), timeout=60, metadata=ADMIN))
            during = len(answered) - before
        finally:
            stop.set()
            for searcher in searchers:
                searcher.result(timeout=120)
    assert failures == []
    assert all(reply.case_count == reloads[0].case_count > 0 for reply in reloads)
    assert all(reply.snapshot for reply in reloads)  # each reload loaded the snapshot rather than rebuilding
    assert during >= 30, f"only {during} searches overlapped the reloads in 60 s: that proves nothing"
