"""One Embed per ticket: routing reuses the caller's vector of the text when it is of routing's model."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from linli.catalog import Catalog, load_catalog
from linli.clients.retrieval import EmbeddedTexts, RetrievalClient
from linli.clients.routing import RoutingClient
from linli.errors import InvalidArgument
from linli.settings import ProcessSettings
from linli.v1 import cases_pb2, retrieval_pb2, retrieval_pb2_grpc
from services.routing.learning.data import LabelledText
from services.routing.learning.features import EmbedderEncoder
from services.routing.learning.model_dir import save_model
from services.routing.learning.training import train
from services.routing.metrics import GIVEN_EMBEDDINGS
from services.routing.router import Complaint, GivenEmbedding, Router
from services.routing.server import RoutingDeps, create_server
from services.routing.servicer import decision_to_proto
from services.routing.signals import RoutingTrainingSignals
from tests.local_servers import routing_settings
from tests.tokens import service_credentials
from tests.unit.routing.test_router import CONFIG, EMBEDDER, FakeRetrieval, corpus_slice, make_router

SHORT = "3号楼楼道的灯坏了好几天了,晚上上下楼黑漆漆的"
LONG = "我们小区3号楼的楼道灯已经坏了好几天了," * 8 + "请物业尽快派人来修一下"


class CountingRetrieval(FakeRetrieval):
    """The test router's fake retrieval, recording the texts of every Embed call it answers."""

    def __init__(self, cases: list[cases_pb2.Case]) -> None:
        super().__init__(cases)
        self.embedded: list[list[str]] = []

    def Embed(self, request: retrieval_pb2.EmbedRequest, context: object) -> retrieval_pb2.EmbedResponse:  # noqa: N802
        self.embedded.append(list(request.texts))
        return super().Embed(request, context)


def _serve(servicer: CountingRetrieval) -> tuple[grpc.Server, int]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    retrieval_pb2_grpc.add_RetrievalServiceServicer_to_server(servicer, server)
    health_servicer = health.HealthServicer()
    health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, port


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def model_dir(catalog: Catalog, tmp_path_factory: pytest.TempPathFactory) -> Path:
    items = [LabelledText(row["complaint"], row["party"]) for row in corpus_slice()]
    model = train(items, config=CONFIG, encoder=EmbedderEncoder(EMBEDDER), signals=RoutingTrainingSignals(catalog))
    directory = tmp_path_factory.mktemp("models") / "routing"
    save_model(model, directory)
    return directory


@pytest.fixture(scope="module")
def retrieval() -> Iterator[tuple[CountingRetrieval, int]]:
    rows = corpus_slice()
    cases = [
        cases_pb2.Case(id=r["id"], complaint=r["complaint"], party=r["party"], category=r["category"]) for r in rows
    ]
    fake = CountingRetrieval(cases)
    server, port = _serve(fake)
    yield fake, port
    server.stop(0)


@pytest.fixture(scope="module")
def router(retrieval: tuple[CountingRetrieval, int], model_dir: Path, catalog: Catalog) -> Iterator[Router]:
    channel = grpc.insecure_channel(f"127.0.0.1:{retrieval[1]}")
    yield make_router(channel, model_dir, catalog)
    channel.close()


def given(text: str, model: str = EMBEDDER.model_name) -> GivenEmbedding:
    return GivenEmbedding(EMBEDDER.embed([text])[0], model)


def reused_count() -> float:
    return float(GIVEN_EMBEDDINGS.labels("reused")._value.get())


def test_a_vector_of_routings_model_spares_the_embed_and_decides_alike(
    router: Router, retrieval: tuple[CountingRetrieval, int]
) -> None:
    fake, _ = retrieval
    fake.embedded.clear()
    alone = decision_to_proto(router.route(Complaint(SHORT)))
    assert fake.embedded == [[SHORT]]
    fake.embedded.clear()
    before = reused_count()
    shared = decision_to_proto(router.route(Complaint(SHORT, embedding=given(SHORT))))
    assert fake.embedded == []
    assert reused_count() == before + 1
    assert shared == alone


def test_a_vector_of_another_model_is_not_used(router: Router, retrieval: tuple[CountingRetrieval, int]) -> None:
    fake, _ = retrieval
    fake.embedded.clear()
    other = GivenEmbedding(np.ones(EMBEDDER.dimension, dtype=np.float32), "m3e-small")
    router.route(Complaint(SHORT, embedding=other))
    assert fake.embedded == [[SHORT]]


@pytest.mark.parametrize(
    "vector",
    [np.ones(EMBEDDER.dimension - 1, dtype=np.float32), np.full(EMBEDDER.dimension, np.nan, dtype=np.float32)],
    ids=["wrong-length", "not-finite"],
)
def test_a_malformed_vector_of_routings_model_is_invalid(router: Router, vector: np.ndarray) -> None:
    with pytest.raises(InvalidArgument) as raised:
        router.route(Complaint(SHORT, embedding=GivenEmbedding(vector, EMBEDDER.model_name)))
    assert raised.value.violations[0].field == "embedding.values"


def test_a_long_text_embeds_head_and_tail_in_one_call(router: Router, retrieval: tuple[CountingRetrieval, int]) -> None:
    fake, _ = retrieval
    fake.embedded.clear()
    router.route(Complaint(LONG, embedding=given(LONG)))
    head, tail = CONFIG.features.head_chars, CONFIG.features.tail_chars
    assert fake.embedded == [[LONG[:head], LONG[-tail:]]]


def test_over_grpc_the_workers_sequence_costs_one_embed(
    retrieval: tuple[CountingRetrieval, int], model_dir: Path
) -> None:
    """Intake's worker: Embed for duplicates, then Route with that vector; retrieval answers one Embed in all."""
    fake, port = retrieval
    handle = create_server(routing_settings(port, model_dir), RoutingDeps(), process=ProcessSettings.from_environment())
    assert handle.wait_ready(30), handle.load_error
    retrieval_channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    routing_channel = grpc.insecure_channel(f"127.0.0.1:{handle.port}")
    try:
        fake.embedded.clear()
        embedded: EmbeddedTexts = RetrievalClient(
            retrieval_channel, timeout_seconds=5, credentials=service_credentials()
        ).embed([SHORT])
        decision = RoutingClient(routing_channel, timeout_seconds=5, credentials=service_credentials()).route(
            text=SHORT, community="", building="", embedding=embedded
        )
        assert decision.alternatives
        assert fake.embedded == [[SHORT]]
    finally:
        routing_channel.close()
        retrieval_channel.close()
        handle.stop(0)
