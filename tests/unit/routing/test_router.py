"""The router behind Route: calibrated alternatives, abstention, urgency, catalog evidence, any label set via RPC."""

# ruff: noqa: N802 - the fakes implement RPC methods under their RPC names

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from linli.catalog import Catalog, load_catalog
from linli.clients.retrieval import RetrievalClient
from linli.errors import FailedPrecondition, InvalidArgument
from linli.parties import DEFAULT_PARTIES
from linli.settings import ProcessSettings
from linli.v1 import cases_pb2, retrieval_pb2, retrieval_pb2_grpc, routing_pb2, routing_pb2_grpc
from services.routing.bootstrap import retrieval_encoder
from services.routing.learning.data import LabelledText, read_labelled
from services.routing.learning.features import EmbedderEncoder, FeatureConfig
from services.routing.learning.model_dir import save_model
from services.routing.learning.training import TrainingConfig, train
from services.routing.model_holder import ModelHolder
from services.routing.router import Complaint, Router
from services.routing.server import RoutingDeps, create_server
from services.routing.servicer import decision_to_proto
from services.routing.settings import RoutingSettings
from services.routing.signals import RoutingTrainingSignals
from tests.local_servers import routing_settings
from tests.tokens import as_service, service_credentials, service_metadata
from tests.unit.fakes import HashEmbedder

CORPUS = Path(__file__).resolve().parents[3] / "services" / "retrieval" / "corpus" / "resolved_cases.jsonl"
CONFIG = TrainingConfig(features=FeatureConfig(word_ngrams=None), folds=3)
EMBEDDER = HashEmbedder(dimension=32, name="hash-embedder")


class FakeRetrieval(retrieval_pb2_grpc.RetrievalServiceServicer):
    """Embeds with the hash embedder and searches a fixed case list exactly (by vector or by text, returning the
    text's vector when asked), like the real service's contract."""

    def __init__(self, cases: list[cases_pb2.Case]) -> None:
        self.cases = cases
        self.vectors = EMBEDDER.embed([case.complaint for case in cases])

    def Embed(self, request: retrieval_pb2.EmbedRequest, context: object) -> retrieval_pb2.EmbedResponse:
        vectors = EMBEDDER.embed(list(request.texts))
        return retrieval_pb2.EmbedResponse(
            embeddings=[retrieval_pb2.Embedding(values=v.tolist()) for v in vectors],
            model=EMBEDDER.model_name,
            dimension=EMBEDDER.dimension,
        )

    def SearchCases(
        self, request: retrieval_pb2.SearchCasesRequest, context: object
    ) -> retrieval_pb2.SearchCasesResponse:
        return self.answer(request)

    def BatchSearchCases(
        self, request: retrieval_pb2.BatchSearchCasesRequest, context: object
    ) -> retrieval_pb2.BatchSearchCasesResponse:
        return retrieval_pb2.BatchSearchCasesResponse(results=[self.answer(search) for search in request.searches])

    def answer(self, request: retrieval_pb2.SearchCasesRequest) -> retrieval_pb2.SearchCasesResponse:
        """One search's answer, alone or in a batch."""
        by_text = request.WhichOneof("query") == "text"
        query = EMBEDDER.embed([request.text])[0] if by_text else np.asarray(request.vector.values, dtype=np.float32)
        scores = self.vectors @ query
        top = np.argsort(-scores)[: request.k]
        response = retrieval_pb2.SearchCasesResponse(
            results=[cases_pb2.ScoredCase(case=self.cases[i], score=float(scores[i])) for i in top],
            model=EMBEDDER.model_name,
        )
        if by_text and request.include_query_vector:
            response.query_vector.values.extend(query.tolist())
        return response

    def GetIndexStats(
        self, request: retrieval_pb2.GetIndexStatsRequest, context: object
    ) -> retrieval_pb2.GetIndexStatsResponse:
        return retrieval_pb2.GetIndexStatsResponse(
            case_count=len(self.cases), dimension=EMBEDDER.dimension, model=EMBEDDER.model_name
        )


def corpus_slice(per_entry: int = 4) -> list[dict[str, str]]:
    taken: dict[str, int] = {}
    rows = []
    for line in CORPUS.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if taken.get(row["category"], 0) < per_entry:
            taken[row["category"]] = taken.get(row["category"], 0) + 1
            rows.append(row)
    return rows


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    return corpus_slice()


@pytest.fixture(scope="module")
def retrieval(rows: list[dict[str, str]]) -> FakeRetrieval:
    return FakeRetrieval(
        [
            cases_pb2.Case(
                id=row["id"],
                complaint=row["complaint"],
                resolution=row["resolution"],
                party=row["party"],
                category=row["category"],
                community=row["community"],
                status=cases_pb2.CASE_STATUS_RESOLVED,
            )
            for row in rows
        ]
    )


@pytest.fixture(scope="module")
def model_dir(rows: list[dict[str, str]], catalog: Catalog, tmp_path_factory: pytest.TempPathFactory) -> Path:
    items = [LabelledText(row["complaint"], row["party"]) for row in rows]
    model = train(items, config=CONFIG, encoder=EmbedderEncoder(EMBEDDER), signals=RoutingTrainingSignals(catalog))
    directory = tmp_path_factory.mktemp("models") / "routing"
    save_model(model, directory)
    return directory


@pytest.fixture(scope="module")
def retrieval_channel(retrieval: FakeRetrieval) -> Iterator[grpc.Channel]:
    """The fake retrieval served in process, for the router's real retrieval client."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    retrieval_pb2_grpc.add_RetrievalServiceServicer_to_server(retrieval, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    yield channel
    channel.close()
    server.stop(0)


def make_router(channel: grpc.Channel, model_dir: Path, catalog: Catalog, **overrides: object) -> Router:
    client = RetrievalClient(channel, timeout_seconds=5, credentials=service_credentials())
    encoder = retrieval_encoder(client, model_name=EMBEDDER.model_name, dimension=EMBEDDER.dimension)
    models = ModelHolder(model_dir, encoder=encoder)
    models.reload()
    settings = RoutingSettings(**overrides)  # type: ignore[arg-type]
    return Router(retrieval=client, encoder=encoder, models=models, catalog=catalog, settings=settings)


def routed(router: Router, text: str) -> routing_pb2.RoutingDecision:
    """The router's decision as the Route RPC sends it."""
    return decision_to_proto(router.route(Complaint(text)))


@pytest.fixture(scope="module")
def router(retrieval_channel: grpc.Channel, model_dir: Path, catalog: Catalog) -> Router:
    return make_router(retrieval_channel, model_dir, catalog)


def test_alternatives_cover_every_party_and_sum_to_one(router: Router) -> None:
    decision = routed(router, "3号楼楼道的灯坏了好几天了,晚上上下楼黑漆漆的")
    assert sorted(a.party for a in decision.alternatives) == sorted(DEFAULT_PARTIES)
    assert math.isclose(sum(a.probability for a in decision.alternatives), 1.0, abs_tol=1e-6)
    probabilities = [a.probability for a in decision.alternatives]
    assert probabilities == sorted(probabilities, reverse=True)
    assert decision.confidence == pytest.approx(probabilities[0])
    assert decision.router_version


def test_a_clear_catalog_topic_is_routed_with_its_entry_sla_and_evidence(router: Router) -> None:
    decision = routed(router, "楼道里声控灯不亮了,麻烦物业来换一下灯泡")
    assert not decision.abstained
    assert decision.party == "property_manager"
    entry = decision.rationale.catalog_entry
    assert entry.entry_id == "stairwell_light_broken"
    assert entry.party == "property_manager"
    assert entry.basis
    assert decision.category == "stairwell_light_broken"
    assert decision.sla_hours > 0
    assert decision.escalation_level != routing_pb2.ESCALATION_LEVEL_UNSPECIFIED
    signals = {opinion.signal for opinion in decision.rationale.opinions}
    assert {routing_pb2.DECIDING_SIGNAL_CATALOG, routing_pb2.DECIDING_SIGNAL_CASE_VOTE} <= signals
    assert decision.rationale.deciding_signal in signals
    assert "权责清单" in decision.rationale.summary
    assert decision.suggested_resolution
    assert decision.similar_cases


def test_below_the_threshold_the_router_abstains_and_says_so(
    retrieval_channel: grpc.Channel, model_dir: Path, catalog: Catalog
) -> None:
    cautious = make_router(retrieval_channel, model_dir, catalog, min_confidence=0.999)
    decision = routed(cautious, "你好,想反映个问题")
    assert decision.abstained
    assert decision.party == ""
    assert decision.rationale.deciding_signal == routing_pb2.DECIDING_SIGNAL_NONE
    assert "人工" in decision.rationale.summary
    assert len(decision.alternatives) == 3  # the person deciding still sees every party's probability


def test_an_emergency_is_marked_with_a_notice_and_a_short_deadline(router: Router) -> None:
    decision = routed(router, "电梯困人了!我妈被关在3号楼电梯里面出不来,快来人啊")
    assert decision.urgency == routing_pb2.URGENCY_EMERGENCY
    assert decision.urgency_notice
    assert 0 < decision.sla_hours <= 2
    assert decision.escalation_level >= routing_pb2.ESCALATION_LEVEL_COMMUNITY


def test_a_past_emergency_is_not_an_alarm(router: Router) -> None:
    decision = routed(router, "上次电梯困人的事处理完了吗?想问下维保单位有没有整改")
    assert decision.urgency != routing_pb2.URGENCY_EMERGENCY


def test_empty_or_overlong_text_is_invalid(router: Router) -> None:
    with pytest.raises(InvalidArgument):
        router.route(Complaint("   "))
    with pytest.raises(InvalidArgument):
        router.route(Complaint("灯" * 2001))


def test_a_model_for_another_embedding_model_is_refused_and_the_running_one_stays(
    router: Router, rows: list[dict[str, str]], tmp_path: Path
) -> None:
    other = HashEmbedder(dimension=16, name="another-model")
    items = [LabelledText(row["complaint"], row["party"]) for row in rows]
    holder = ModelHolder(tmp_path / "routing", encoder=router.models.current.classifier._encoder)
    save_model(train(items, config=CONFIG, encoder=EmbedderEncoder(other)), tmp_path / "routing")
    with pytest.raises(FailedPrecondition, match="another-model"):
        holder.reload()
    assert not holder.loaded


# --- through the RPC, with a taxonomy of a city's departments --------------------------------------------------

DEPARTMENTS = {
    "water_affairs": ["停水了一整天", "水管爆裂漏水", "自来水发黄有味道", "水压太低洗不了澡"],
    "sanitation": ["垃圾没人清运", "垃圾堆积发臭", "公共厕所很脏", "垃圾桶满了溢出来"],
    "traffic": ["红绿灯坏了不亮", "公交车总是不准点", "路口天天拥堵", "违章停车把路堵了"],
}


@pytest.fixture
def city_server(tmp_path: Path) -> Iterator[tuple[routing_pb2_grpc.RoutingServiceStub, Path]]:
    places = ["幸福小区", "人民路", "东门街", "学府路"]
    items = [
        LabelledText(f"{place}{problem},请尽快处理", label)
        for label, problems in DEPARTMENTS.items()
        for place in places
        for problem in problems
    ]
    cases = [
        cases_pb2.Case(id=f"c{i}", complaint=item.text, resolution="已处理", party=item.label, community="x")
        for i, item in enumerate(items)
    ]
    fake = FakeRetrieval(cases)
    retrieval_server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    retrieval_pb2_grpc.add_RetrievalServiceServicer_to_server(fake, retrieval_server)
    health_servicer = health.HealthServicer()
    health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, retrieval_server)
    port = retrieval_server.add_insecure_port("127.0.0.1:0")
    retrieval_server.start()
    model_dir = tmp_path / "city-model"
    model = train(
        items, config=CONFIG, encoder=EmbedderEncoder(EMBEDDER), signals=RoutingTrainingSignals(load_catalog())
    )
    save_model(model, model_dir)
    settings = routing_settings(port, model_dir)
    handle = create_server(settings, RoutingDeps(), process=ProcessSettings.from_environment())
    assert handle.wait_ready(30), handle.load_error
    channel = as_service(grpc.insecure_channel(f"127.0.0.1:{handle.port}"))
    yield routing_pb2_grpc.RoutingServiceStub(channel), model_dir
    channel.close()
    handle.stop(0)
    retrieval_server.stop(0)


def test_a_model_trained_on_other_labels_is_served_through_the_rpc(
    city_server: tuple[routing_pb2_grpc.RoutingServiceStub, Path],
) -> None:
    stub, _ = city_server
    info = stub.GetModelInfo(routing_pb2.GetModelInfoRequest(), timeout=5).model
    assert sorted(info.labels) == sorted(DEPARTMENTS)
    assert "catalog" not in info.signals  # the catalog speaks of compound parties, not a city's departments
    decision = stub.Route(
        routing_pb2.RouteRequest(complaint=routing_pb2.Complaint(text="人民路红绿灯坏了不亮,请尽快处理")), timeout=5
    ).decision
    assert {a.party for a in decision.alternatives} == set(DEPARTMENTS)
    assert decision.alternatives[0].party == "traffic"
    assert not decision.rationale.HasField("catalog_entry")


def test_reloading_a_bad_model_fails_and_keeps_serving_the_good_one(
    city_server: tuple[routing_pb2_grpc.RoutingServiceStub, Path],
) -> None:
    stub, model_dir = city_server
    before = stub.GetModelInfo(routing_pb2.GetModelInfoRequest(), timeout=5).model.version
    manifest = model_dir / "manifest.json"
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["embedding"] = {"model": "another-model", "dimension": 768}
    data["created_at"] = "2099-01-01T00:00:00+00:00"
    manifest.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(grpc.RpcError) as raised:
        stub.ReloadModel(routing_pb2.ReloadModelRequest(), timeout=5, metadata=service_metadata())
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert stub.GetModelInfo(routing_pb2.GetModelInfoRequest(), timeout=5).model.version == before
    decision = stub.Route(routing_pb2.RouteRequest(complaint=routing_pb2.Complaint(text="垃圾桶满了")), timeout=5)
    assert decision.decision.alternatives


def test_read_labelled_accepts_the_corpus_format() -> None:
    items = read_labelled(CORPUS)
    assert {item.label for item in items} == set(DEFAULT_PARTIES)


def test_a_message_raising_two_problems_lists_the_other_with_its_entry_and_excerpt(router: Router) -> None:
    passages = {
        "stairwell_light_broken": ("property_manager", "楼道里声控灯不亮了,麻烦物业来换一下灯泡"),
        "fire_lane_blocked": ("street_office", "另外小区门口总有车停在消防通道上"),
    }
    decision = routed(router, "。".join(excerpt for _, excerpt in passages.values()))
    # Whichever problem the decision rests on (decided or abstained: the entry it would rest on), the other is listed.
    main = decision.rationale.catalog_entry
    assert (main.entry_id, main.party) in {(entry, party) for entry, (party, _) in passages.items()}
    assert main.party == decision.alternatives[0].party
    [other] = decision.other_issues
    [expected] = set(passages) - {main.entry_id}
    assert (other.entry.entry_id, other.entry.party, other.excerpt) == (expected, *passages[expected])
    assert other.entry.name
    assert other.entry.basis
    assert 0 < other.entry.score <= 1


def test_a_one_problem_message_of_several_sentences_lists_no_other_issue(router: Router) -> None:
    decision = routed(router, "楼道里声控灯不亮了。晚上上下楼黑漆漆的,老人摔了一跤。麻烦尽快处理,谢谢!")
    assert decision.rationale.catalog_entry.entry_id == "stairwell_light_broken"
    assert list(decision.other_issues) == []


def test_a_precedent_stored_with_names_is_quoted_scrubbed(model_dir: Path, catalog: Catalog) -> None:
    # An index filled before the name scrubber returns names as stored: the router's texts must not repeat them.
    named = cases_pb2.Case(
        id="old-1",
        complaint="张伟说3号楼楼道灯坏了一个星期了",
        resolution="已联系李建华,明天上门维修",
        party="property_manager",
        category="stairwell_light_broken",
        status=cases_pb2.CASE_STATUS_RESOLVED,
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    retrieval_pb2_grpc.add_RetrievalServiceServicer_to_server(FakeRetrieval([named]), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            decision = routed(make_router(channel, model_dir, catalog), named.complaint)
    finally:
        server.stop(0)

    assert "「[姓名]说3号楼楼道灯坏了一个星期了」" in decision.rationale.summary
    assert "已联系[姓名]" in decision.suggested_resolution
    for name in ("张伟", "李建华"):
        assert name not in decision.rationale.summary
        assert name not in decision.suggested_resolution
