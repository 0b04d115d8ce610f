"""In-process servers under fuzz and the tokens callers present; the tally of examples is printed at the end."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from linli.catalog import load_catalog
from linli.embedding import SentenceTransformerEmbedder
from linli.grpc_serving import ServerHandle
from linli.settings import ProcessSettings
from linli.tokens import TokenCodec, TokenKind
from services.intake.auth.residents import DevVerifier
from services.intake.auth.tokens import issue_token
from services.intake.ratelimit import RateLimiter
from services.intake.tickets.validation import Submission
from services.intake.triage.flows import TriageFlows
from services.retrieval.server import RetrievalDeps, RetrievalServer
from services.retrieval.server import create_server as create_retrieval
from services.routing.learning.data import read_labelled
from services.routing.learning.features import EmbedderEncoder, FeatureConfig
from services.routing.learning.model_dir import save_model
from services.routing.learning.training import TrainingConfig, train
from services.routing.server import RoutingDeps
from services.routing.server import create_server as create_routing
from services.routing.signals import RoutingTrainingSignals
from tests.fuzz.harness import (
    AUTH_KEY,
    CASES_PER_ENTRY,
    COMMUNITY,
    CORPUS,
    READY_SECONDS,
    RESIDENT,
    SEED_TEXTS,
    TALLY,
    Callers,
    FuzzTally,
    IntakeUnderFuzz,
)
from tests.local_servers import retrieval_settings, routing_settings
from tests.unit.fakes import HashEmbedder
from tests.unit.intake.fakes import decision
from tests.unit.intake.servers import sqlite_intake


@pytest.fixture(scope="session")
def tally() -> FuzzTally:
    """The run's tally of fuzz examples."""
    return TALLY


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Prints the tally; `LINLI_FUZZ_REPORT=path` also writes it as JSON."""
    if not TALLY.codes:
        return
    terminalreporter.section("hostile input: examples and answers per target")
    for line in TALLY.lines():
        terminalreporter.write_line(line)
    report = os.environ.get("LINLI_FUZZ_REPORT")
    if report:
        Path(report).write_text(json.dumps(TALLY.codes, indent=1, ensure_ascii=False), encoding="utf-8")


@pytest.fixture(scope="session")
def codec() -> TokenCodec:
    """The signing key every server under fuzz shares."""
    return TokenCodec([AUTH_KEY])


@pytest.fixture(scope="session")
def callers(codec: TokenCodec) -> Callers:
    """Tokens of a resident who owns the seeded tickets, workers of three kinds, an admin and a service."""

    def bearer(kind: str, subject: str, **claims: str) -> str:
        return f"Bearer {issue_token(kind, subject, codec=codec, **claims)[0]}"  # type: ignore[arg-type]

    genuine = bearer("worker", "w-pm", party="property_manager", community=COMMUNITY)
    forged = genuine[:-4] + ("AAAA" if not genuine.endswith("AAAA") else "BBBB")  # signature no longer matches
    return Callers(
        resident=bearer("resident", RESIDENT),
        other_resident=bearer("resident", "someone-else"),
        worker=genuine,
        dispatcher=bearer("worker", "d-1", party="street_office", community=COMMUNITY, role="dispatcher"),
        street_worker=bearer("worker", "w-so", party="street_office"),
        admin=bearer("worker", "admin-1", party="street_office", role="admin"),
        service=bearer(TokenKind.SERVICE.value, "fuzz"),
        expired_or_forged=forged,
    )


@pytest.fixture(scope="session")
def corpus_slice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A few resolved cases of every catalog entry, as JSONL."""
    taken: Counter[str] = Counter()
    lines = []
    for line in CORPUS.read_text(encoding="utf-8").splitlines():
        category = json.loads(line)["category"]
        if taken[category] < CASES_PER_ENTRY:
            taken[category] += 1
            lines.append(line)
    path = tmp_path_factory.mktemp("fuzz-corpus") / "cases.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


HASH_EMBEDDER = HashEmbedder(dimension=32, name="hash-embedder")


@pytest.fixture(scope="session")
def retrieval_under_fuzz(
    tmp_path_factory: pytest.TempPathFactory, corpus_slice: Path, codec: TokenCodec
) -> Iterator[RetrievalServer]:
    """The real retrieval server (case store, FAISS, snapshots) with a hash embedder instead of the model."""
    settings = retrieval_settings(tmp_path_factory.mktemp("fuzz-index"), corpus_slice, batch_wait_ms=0)
    server = create_retrieval(
        settings, RetrievalDeps(embedder=HASH_EMBEDDER, tokens=codec), process=ProcessSettings.from_environment()
    )
    assert server.handle.wait_ready(READY_SECONDS), server.handle.load_error
    yield server
    server.stop(0)


@pytest.fixture(scope="session")
def model_retrieval_under_fuzz(
    embedder: SentenceTransformerEmbedder, tmp_path_factory: pytest.TempPathFactory, codec: TokenCodec
) -> Iterator[RetrievalServer]:
    """Retrieval with the real m3e-small model (tokenizer and all) over an empty index: embedding is the point."""
    settings = retrieval_settings(tmp_path_factory.mktemp("fuzz-model-index"), None)
    server = create_retrieval(
        settings, RetrievalDeps(embedder=embedder, tokens=codec), process=ProcessSettings.from_environment()
    )
    assert server.handle.wait_ready(READY_SECONDS * 3), server.handle.load_error
    yield server
    server.stop(0)


@pytest.fixture(scope="session")
def routing_under_fuzz(
    retrieval_under_fuzz: RetrievalServer,
    corpus_slice: Path,
    tmp_path_factory: pytest.TempPathFactory,
    codec: TokenCodec,
) -> Iterator[ServerHandle]:
    """The real routing server: a model trained on the slice (hash vectors, no word n-grams: seconds), the catalog."""
    model_dir = tmp_path_factory.mktemp("fuzz-routing-model")
    model = train(
        read_labelled(corpus_slice),
        config=TrainingConfig(features=FeatureConfig(word_ngrams=None), folds=3),
        encoder=EmbedderEncoder(HASH_EMBEDDER),
        signals=RoutingTrainingSignals(load_catalog()),
    )
    save_model(model, model_dir)
    settings = routing_settings(retrieval_under_fuzz.handle.port, model_dir)
    handle = create_routing(settings, RoutingDeps(tokens=codec), process=ProcessSettings.from_environment())
    assert handle.wait_ready(READY_SECONDS), handle.load_error
    yield handle
    handle.stop(0)


@pytest.fixture(scope="session")
def intake_under_fuzz(
    tmp_path_factory: pytest.TempPathFactory, retrieval_under_fuzz: RetrievalServer, codec: TokenCodec
) -> Iterator[IntakeUnderFuzz]:
    """Intake on SQLite with recording fakes for the queue and notifier, no rate limits, and seeded tickets."""
    folder = tmp_path_factory.mktemp("fuzz-intake")
    with pytest.MonkeyPatch.context() as environment:
        # The H5 page's instant answers read their retrieval target from the environment, as in production.
        environment.setenv("LINLI_INTAKE_RETRIEVAL_TARGET", f"127.0.0.1:{retrieval_under_fuzz.handle.port}")
        with sqlite_intake(folder, limiter=RateLimiter.unlimited(), codec=codec, verifier=DevVerifier()) as server:
            ticket_ids = []
            for number, text in enumerate(SEED_TEXTS):
                view, _ = server.flows.submit(Submission(text=text, community=COMMUNITY, resident_id=RESIDENT))
                ticket_ids.append(view.ticket.id)
                if number % 2 == 0:  # half routed, half still received: different transitions are allowed
                    TriageFlows(server.context).record_triage(view.ticket.id, decision("property_manager"))
            yield IntakeUnderFuzz(server, ticket_ids)
