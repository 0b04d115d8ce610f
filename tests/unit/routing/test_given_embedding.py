"""One Embed per ticket: routing searches by the text and gets its vector back in the same call, returns that vector
with its decision (intake's duplicate check uses it), and reuses a caller's vector when it is of routing's model."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import numpy as np
import pytest
from google.protobuf.message import Message
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from linli.catalog import Catalog, load_catalog
from linli.clients.retrieval import RetrievalClient
from linli.clients.routing import RoutingClient
from linli.errors import InvalidArgument
from linli.grpc_serving import ServerHandle
from linli.settings import ProcessSettings
from linli.v1 import cases_pb2, retrieval_pb2, retrieval_pb2_grpc, routing_pb2, routing_pb2_grpc
from services.intake.database import Database
from services.intake.tickets.validation import Submission
from services.intake.triage.flows import TriageOutcome
from services.intake.worker.tasks import TaskDeps, triage_ticket
from services.retrieval.server import RetrievalDeps, RetrievalServer
from services.retrieval.server import create_server as create_retrieval_server
from services.routing.learning.data import LabelledText
from services.routing.learning.features import EmbedderEncoder
from services.routing.learning.model_dir import save_model
from services.routing.learning.training import train
from services.routing.metrics import GIVEN_EMBEDDINGS
from services.routing.passages import reading_texts
from services.routing.router import Complaint, Router, TextVector
from services.routing.server import RoutingDeps, create_server
from services.routing.servicer import decision_to_proto
from services.routing.signals import RoutingTrainingSignals
from tests.local_servers import retrieval_settings, routing_settings
from tests.tokens import service_credentials, service_metadata
from tests.unit.fakes import HashEmbedder
from tests.unit.intake.fakes import Intake
from tests.unit.routing.test_router import CONFIG, EMBEDDER, FakeRetrieval, corpus_slice, make_router

# Provides the `sqlite_ticket_database` fixture.
pytest_plugins = ["tests.unit.intake.database"]

SHORT = "3号楼楼道的灯坏了好几天了,晚上上下楼黑漆漆的"
LONG = "我们小区3号楼的楼道灯已经坏了好几天了," * 8 + "请物业尽快派人来修一下"  # longer than the head
# Longer than LONG_TEXT_CHARS (passages.py): the model reads its condensed passages, not the text as sent.
LETTER = (
    "我家住在3号楼,从上个月开始楼道的灯就一直不亮。" * 8
    + "晚上老人上下楼非常危险,已经有人摔倒过。" * 4
    + "希望物业尽快派人来维修楼道灯,请尽快解决。"
)


class CountingRetrieval(FakeRetrieval):
    """The test router's fake retrieval, recording the texts it embeds: those of every Embed call, and the text of
    every SearchCases by text (with whether the text's vector was asked back)."""

    def __init__(self, cases: list[cases_pb2.Case]) -> None:
        super().__init__(cases)
        self.embedded: list[list[str]] = []
        self.searched: list[tuple[str, bool]] = []
        self.batches: list[list[tuple[str, bool]]] = []

    def clear(self) -> None:
        self.embedded.clear()
        self.searched.clear()
        self.batches.clear()

    def BatchSearchCases(  # noqa: N802
        self, request: retrieval_pb2.BatchSearchCasesRequest, context: object
    ) -> retrieval_pb2.BatchSearchCasesResponse:
        self.batches.append([(search.text, search.include_query_vector) for search in request.searches])
        return super().BatchSearchCases(request, context)

    def Embed(self, request: retrieval_pb2.EmbedRequest, context: object) -> retrieval_pb2.EmbedResponse:  # noqa: N802
        self.embedded.append(list(request.texts))
        return super().Embed(request, context)

    def SearchCases(  # noqa: N802
        self, request: retrieval_pb2.SearchCasesRequest, context: object
    ) -> retrieval_pb2.SearchCasesResponse:
        if request.WhichOneof("query") == "text":
            self.searched.append((request.text, request.include_query_vector))
        return super().SearchCases(request, context)


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


def given(text: str, model: str = EMBEDDER.model_name) -> TextVector:
    return TextVector(EMBEDDER.embed([text])[0], model)


def reused_count() -> float:
    return float(GIVEN_EMBEDDINGS.labels("reused")._value.get())


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_a_short_text_costs_one_search_by_text_and_no_embed(
    router: Router, retrieval: tuple[CountingRetrieval, int]
) -> None:
    fake, _ = retrieval
    fake.clear()
    decision, vector = router.route_with_vector(Complaint(SHORT))
    assert fake.embedded == []  # the classifier used the vector the search brought back
    assert fake.searched == [(SHORT, True)]
    assert decision.alternatives
    assert vector is not None
    assert vector.model == EMBEDDER.model_name
    assert cosine(vector.vector, EMBEDDER.embed([SHORT])[0]) > 0.9999


def test_a_vector_of_routings_model_spares_the_embed_and_decides_alike(
    router: Router, retrieval: tuple[CountingRetrieval, int]
) -> None:
    fake, _ = retrieval
    fake.clear()
    alone = decision_to_proto(router.route(Complaint(SHORT)))
    assert (fake.embedded, fake.searched) == ([], [(SHORT, True)])  # one embedding of the text, in the search
    fake.clear()
    before = reused_count()
    shared, vector = router.route_with_vector(Complaint(SHORT, embedding=given(SHORT)))
    assert (fake.embedded, fake.searched) == ([], [])  # searched by the given vector
    assert reused_count() == before + 1
    assert decision_to_proto(shared) == alone
    assert vector is not None
    assert np.array_equal(vector.vector, given(SHORT).vector)  # the caller's vector comes back as it was given


def test_a_vector_of_another_model_is_not_used(router: Router, retrieval: tuple[CountingRetrieval, int]) -> None:
    fake, _ = retrieval
    fake.clear()
    other = TextVector(np.ones(EMBEDDER.dimension, dtype=np.float32), "m3e-small")
    _, vector = router.route_with_vector(Complaint(SHORT, embedding=other))
    assert (fake.embedded, fake.searched) == ([], [(SHORT, True)])  # embedded by retrieval as if none was given
    assert vector is not None
    assert vector.model == EMBEDDER.model_name  # routing's own vector, not the other model's
    assert cosine(vector.vector, EMBEDDER.embed([SHORT])[0]) > 0.9999


@pytest.mark.parametrize(
    "vector",
    [np.ones(EMBEDDER.dimension - 1, dtype=np.float32), np.full(EMBEDDER.dimension, np.nan, dtype=np.float32)],
    ids=["wrong-length", "not-finite"],
)
def test_a_malformed_vector_of_routings_model_is_invalid(router: Router, vector: np.ndarray) -> None:
    with pytest.raises(InvalidArgument) as raised:
        router.route(Complaint(SHORT, embedding=TextVector(vector, EMBEDDER.model_name)))
    assert raised.value.violations[0].field == "embedding.values"


def test_a_long_text_embeds_head_and_tail_in_one_call(router: Router, retrieval: tuple[CountingRetrieval, int]) -> None:
    fake, _ = retrieval
    fake.clear()
    _, vector = router.route_with_vector(Complaint(LONG, embedding=given(LONG)))
    head, tail = CONFIG.features.head_chars, CONFIG.features.tail_chars
    assert fake.embedded == [[LONG[:head], LONG[-tail:]]]
    assert fake.searched == []  # searched by the head's vector
    assert vector is not None  # the caller's vector of the whole text, given back
    assert np.array_equal(vector.vector, given(LONG).vector)


def test_a_long_text_without_a_given_vector_returns_none(
    router: Router, retrieval: tuple[CountingRetrieval, int]
) -> None:
    fake, _ = retrieval
    fake.clear()
    _, vector = router.route_with_vector(Complaint(LONG))
    head, tail = CONFIG.features.head_chars, CONFIG.features.tail_chars
    assert fake.embedded == [[LONG[:head], LONG[-tail:]]]
    assert vector is None  # routing never embedded the text as sent


OTHER = "小区门口的垃圾桶满了好几天没人清理"


def assert_same_decision(batched: routing_pb2.RoutingDecision, alone: routing_pb2.RoutingDecision) -> None:
    """Equal, but for the probabilities' last digits: scored in one pass with other texts, a text's probabilities
    can differ from its own alone around the tenth decimal (the model's sums run in another order)."""
    pairs: list[tuple[Message, Message, str]] = [(batched, alone, "confidence")]
    for ours, theirs in [
        *zip(batched.alternatives, alone.alternatives, strict=True),
        *zip(batched.rationale.opinions, alone.rationale.opinions, strict=True),
    ]:
        pairs.append((ours, theirs, "probability"))
    for ours, theirs, name in pairs:
        assert getattr(ours, name) == pytest.approx(getattr(theirs, name), abs=1e-8)
        setattr(ours, name, getattr(theirs, name))
    assert batched == alone


def test_a_batch_searches_its_short_texts_in_one_call_and_decides_each_as_alone(
    router: Router, retrieval: tuple[CountingRetrieval, int]
) -> None:
    fake, _ = retrieval
    texts = [SHORT, LONG, OTHER]
    alone = [router.route_with_vector(Complaint(text)) for text in texts]
    fake.clear()
    together = router.route_many([Complaint(text) for text in texts])
    assert fake.batches == [[(SHORT, True), (OTHER, True)]]  # each text's vector comes back with its neighbours
    assert fake.searched == []
    head, tail = CONFIG.features.head_chars, CONFIG.features.tail_chars
    assert fake.embedded == [[LONG[:head], LONG[-tail:]]]  # a long text's head and tail, as alone
    for (decision, vector), (decision_alone, vector_alone) in zip(together, alone, strict=True):
        assert_same_decision(decision_to_proto(decision), decision_to_proto(decision_alone))
        assert (vector is None) == (vector_alone is None)
        if vector is not None and vector_alone is not None:
            assert np.array_equal(vector.vector, vector_alone.vector)


def test_a_batch_of_one_short_text_searches_as_alone(router: Router, retrieval: tuple[CountingRetrieval, int]) -> None:
    fake, _ = retrieval
    fake.clear()
    router.route_many([Complaint(SHORT)])
    assert (fake.batches, fake.searched) == ([], [(SHORT, True)])


def test_a_batch_names_its_bad_complaint_and_searches_nothing(
    router: Router, retrieval: tuple[CountingRetrieval, int]
) -> None:
    fake, _ = retrieval
    fake.clear()
    with pytest.raises(InvalidArgument) as raised:
        router.route_many([Complaint(SHORT), Complaint("   ")])
    assert [v.field for v in raised.value.violations] == ["complaints[1].text"]
    assert (fake.batches, fake.searched, fake.embedded) == ([], [], [])


# --- over gRPC: routing's answer carries the vector, and the worker's sequence -------------------------------------


@pytest.fixture(scope="module")
def routing_port(retrieval: tuple[CountingRetrieval, int], model_dir: Path) -> Iterator[int]:
    handle: ServerHandle = create_server(
        routing_settings(retrieval[1], model_dir), RoutingDeps(), process=ProcessSettings.from_environment()
    )
    assert handle.wait_ready(30), handle.load_error
    yield handle.port
    handle.stop(0)


def route_rpc(port: int, text: str) -> routing_pb2.RouteResponse:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = routing_pb2_grpc.RoutingServiceStub(channel)
        request = routing_pb2.RouteRequest(complaint=routing_pb2.Complaint(text=text))
        response: routing_pb2.RouteResponse = stub.Route(request, timeout=10, metadata=service_metadata())
        return response


def test_route_returns_the_vector_of_a_short_text(routing_port: int) -> None:
    response = route_rpc(routing_port, SHORT)
    assert response.decision.alternatives
    assert response.HasField("text_embedding")
    assert response.text_embedding.model == EMBEDDER.model_name
    assert cosine(np.asarray(response.text_embedding.values), EMBEDDER.embed([SHORT])[0]) > 0.9999


@pytest.mark.parametrize("text", [LONG, LETTER], ids=["head-and-tail", "condensed-letter"])
def test_route_returns_no_vector_of_a_long_text(routing_port: int, text: str) -> None:
    assert len(text) > CONFIG.features.head_chars
    if text is LETTER:
        assert reading_texts([text])[0] != text  # the model reads other text than the one sent
    response = route_rpc(routing_port, text)
    assert response.decision.alternatives
    assert not response.HasField("text_embedding")


def test_batch_route_returns_each_vector_only_when_asked(routing_port: int) -> None:
    complaints = [routing_pb2.Complaint(text=text) for text in (SHORT, LONG)]
    with grpc.insecure_channel(f"127.0.0.1:{routing_port}") as channel:
        stub = routing_pb2_grpc.RoutingServiceStub(channel)
        plain = stub.BatchRoute(
            routing_pb2.BatchRouteRequest(complaints=complaints), timeout=10, metadata=service_metadata()
        )
        asked = stub.BatchRoute(
            routing_pb2.BatchRouteRequest(complaints=complaints, include_text_embeddings=True),
            timeout=10,
            metadata=service_metadata(),
        )
    assert len(plain.decisions) == 2
    assert list(plain.text_embeddings) == []
    assert list(asked.decisions) == list(plain.decisions)
    short, long = asked.text_embeddings
    assert short.model == EMBEDDER.model_name
    assert cosine(np.asarray(short.values), EMBEDDER.embed([SHORT])[0]) > 0.9999
    assert list(long.values) == []  # routing embedded its head and tail, never the text as sent


def worker_deps(intake: Intake, retrieval_port: int, routing_port: int) -> TaskDeps:
    credentials = service_credentials()
    retrieval_channel = grpc.insecure_channel(f"127.0.0.1:{retrieval_port}")
    routing_channel = grpc.insecure_channel(f"127.0.0.1:{routing_port}")
    return TaskDeps(
        triage=intake.triage,
        learning=intake.learning,
        sweeps=intake.sweeps,
        routing=RoutingClient(routing_channel, timeout_seconds=10, credentials=credentials),
        retrieval=RetrievalClient(retrieval_channel, timeout_seconds=10, credentials=credentials),
    )


def test_over_grpc_the_workers_sequence_costs_one_embedding_and_no_embed_call(
    retrieval: tuple[CountingRetrieval, int], routing_port: int, sqlite_ticket_database: Database
) -> None:
    """Intake's worker routes, then checks duplicates with routing's vector: retrieval embeds the text once, inside
    routing's search, and answers no Embed at all."""
    fake, port = retrieval
    intake = Intake(sqlite_ticket_database)
    ticket_id = intake.flows.submit(Submission(text=SHORT, community="恒康居民区", resident_id="r-1"))[0].ticket.id
    fake.clear()
    assert triage_ticket(ticket_id, worker_deps(intake, port, routing_port)) is not TriageOutcome.ALREADY_TRIAGED
    assert fake.searched == [(SHORT, True)]
    assert fake.embedded == []
    ticket = intake.flows.get(ticket_id).ticket
    assert ticket.embedding_model == EMBEDDER.model_name
    assert ticket.embedding is not None
    stored = np.frombuffer(ticket.embedding, dtype="<f4")
    assert cosine(stored, EMBEDDER.embed([SHORT])[0]) > 0.9999


def test_over_grpc_a_long_letter_is_embedded_by_the_worker_once(
    retrieval: tuple[CountingRetrieval, int], routing_port: int, sqlite_ticket_database: Database
) -> None:
    fake, port = retrieval
    intake = Intake(sqlite_ticket_database)
    ticket_id = intake.flows.submit(Submission(text=LETTER, community="恒康居民区", resident_id="r-1"))[0].ticket.id
    fake.clear()
    triage_ticket(ticket_id, worker_deps(intake, port, routing_port))
    assert fake.embedded.count([LETTER]) == 1  # the worker's own Embed, routing having no vector of the text
    assert all(LETTER not in texts for texts in fake.embedded if texts != [LETTER])
    ticket = intake.flows.get(ticket_id).ticket
    assert ticket.embedding is not None
    assert cosine(np.frombuffer(ticket.embedding, dtype="<f4"), EMBEDDER.embed([LETTER])[0]) > 0.9999


# --- the real retrieval service: a search by text gives the text's vector back when asked ------------------------


@pytest.fixture(scope="module")
def real_retrieval(tmp_path_factory: pytest.TempPathFactory) -> Iterator[grpc.Channel]:
    """A retrieval server as deployed (its embedder the routing model's hash stand-in), with resolved cases."""
    folder = tmp_path_factory.mktemp("retrieval")
    settings = retrieval_settings(folder / "index", None, case_store_url=f"sqlite:///{folder / 'cases.sqlite'}")
    embedder = HashEmbedder(dimension=EMBEDDER.dimension, name=EMBEDDER.model_name)
    server: RetrievalServer = create_retrieval_server(
        settings, RetrievalDeps(embedder=embedder), process=ProcessSettings.from_environment()
    )
    assert server.handle.wait_ready(30), server.handle.load_error
    channel = grpc.insecure_channel(f"127.0.0.1:{server.handle.port}")
    stub = retrieval_pb2_grpc.RetrievalServiceStub(channel)
    cases = [
        cases_pb2.Case(
            id=row["id"], complaint=row["complaint"], resolution=row["resolution"], party=row["party"],
            category=row["category"], community=row["community"], status=cases_pb2.CASE_STATUS_RESOLVED,
        )
        for row in corpus_slice(per_entry=1)
    ]  # fmt: skip
    stub.UpsertCases(retrieval_pb2.UpsertCasesRequest(cases=cases[:50]), timeout=30, metadata=service_metadata())
    yield channel
    channel.close()
    server.stop(0)


def search(
    stub: retrieval_pb2_grpc.RetrievalServiceStub, query: retrieval_pb2.SearchCasesRequest
) -> retrieval_pb2.SearchCasesResponse:
    query.k, query.filter.resolved_only = 3, True
    response: retrieval_pb2.SearchCasesResponse = stub.SearchCases(query, timeout=10, metadata=service_metadata())
    return response


def test_a_search_by_text_returns_the_texts_vector_only_when_asked(real_retrieval: grpc.Channel) -> None:
    stub = retrieval_pb2_grpc.RetrievalServiceStub(real_retrieval)
    embedded = stub.Embed(retrieval_pb2.EmbedRequest(texts=[SHORT]), timeout=10, metadata=service_metadata())
    expected = np.asarray(embedded.embeddings[0].values)
    asked = search(stub, retrieval_pb2.SearchCasesRequest(text=SHORT, include_query_vector=True))
    assert asked.results
    assert asked.HasField("query_vector")
    assert cosine(np.asarray(asked.query_vector.values), expected) > 0.9999
    assert asked.model == embedded.model

    plain = search(stub, retrieval_pb2.SearchCasesRequest(text=SHORT))
    assert not plain.HasField("query_vector")
    assert [hit.case.id for hit in plain.results] == [hit.case.id for hit in asked.results]

    by_vector = search(
        stub,
        retrieval_pb2.SearchCasesRequest(vector=retrieval_pb2.Embedding(values=expected), include_query_vector=True),
    )
    assert not by_vector.HasField("query_vector")  # the caller has that vector already
    assert [hit.case.id for hit in by_vector.results] == [hit.case.id for hit in asked.results]


def test_the_client_searches_by_text_and_gets_the_vector_in_one_call(real_retrieval: grpc.Channel) -> None:
    client = RetrievalClient(real_retrieval, timeout_seconds=10, credentials=service_credentials())
    embedded, precedents = client.resolved_near_text(k=3, text=SHORT)
    assert embedded is not None
    assert embedded.model == EMBEDDER.model_name
    assert embedded.vectors.shape == (1, EMBEDDER.dimension)
    by_vector = client.similar_resolved(k=3, vector=embedded.vectors[0])
    assert [hit.case.id for hit in precedents] == [hit.case.id for hit in by_vector]
