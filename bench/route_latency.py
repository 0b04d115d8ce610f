"""Route latency without the embedding: what the router itself adds to a decision.

The complaint vectors are computed once with the real model beforehand; retrieval is answered in process (exact
search over the corpus vectors, each vector's answer kept after the warm-up, as retrieval's own process would spend
that CPU), so the figures are the router's own work: TF-IDF and jieba features, the stacker, catalog matching, the
vote, urgency detection and the suggestion. Also prints the held-out accuracy of the same run.

With `--rounds N`, then compares the CPU per Route call (time.process_time) of the model's compiled scoring
(services/routing/learning/compiled.py) and of scikit-learn's own objects, alternating N rounds over the held-out
texts, and checks that both give the same decisions.

    python -m bench.route_latency [--queries 500] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from linli.catalog import load_catalog
from linli.clients.retrieval import EmbeddedTexts
from linli.embedding import SentenceTransformerEmbedder, Vectors
from linli.v1 import cases_pb2
from services.retrieval.cases import CaseRecord, read_corpus
from services.retrieval.settings import RetrievalSettings
from services.routing.bootstrap import retrieval_encoder
from services.routing.decision import RoutingDecision
from services.routing.learning.data import LabelledText
from services.routing.learning.features import FeatureConfig
from services.routing.learning.model_dir import save_model
from services.routing.learning.training import train
from services.routing.model_holder import ModelHolder
from services.routing.router import Complaint, Router
from services.routing.settings import RoutingSettings
from services.routing.signals import RoutingTrainingSignals, catalog_examples

CORPUS = Path(__file__).resolve().parent.parent / "services" / "retrieval" / "corpus"


class PrecomputedRetrieval:
    """Shaped like retrieval's client: embeds from vectors computed beforehand, searches exactly over the corpus."""

    def __init__(self, vectors: dict[str, np.ndarray], cases: list[cases_pb2.Case], model: str) -> None:
        self._vectors = vectors
        self._cases = cases
        self._matrix = np.stack([vectors[case.complaint[:128]] for case in cases])
        self._model = model
        self._answers: dict[tuple[int, bytes], list[cases_pb2.ScoredCase]] = {}

    def embed(self, texts: list[str]) -> EmbeddedTexts:
        return EmbeddedTexts(np.stack([self._vectors[text] for text in texts]).astype(np.float32), self._model)

    def similar_resolved(self, *, k: int, vector: np.ndarray) -> list[cases_pb2.ScoredCase]:
        key = (k, vector.tobytes())
        if key not in self._answers:
            scores = self._matrix @ vector
            top = np.argpartition(-scores, k)[:k]
            top = top[np.argsort(-scores[top])]
            self._answers[key] = [cases_pb2.ScoredCase(case=self._cases[i], score=float(scores[i])) for i in top]
        return self._answers[key]


class LookupEncoder:
    """The training encoder: the same precomputed vectors."""

    def __init__(self, vectors: dict[str, np.ndarray], model: str, dimension: int) -> None:
        self._vectors, self.model_name, self.dimension = vectors, model, dimension

    def __call__(self, texts: list[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._vectors[text] for text in texts]).astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    """Prints route p50/p99 (ms) without embedding, the held-out accuracy, and with --rounds the CPU comparison."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=0, help="rounds of the compiled/scikit-learn CPU comparison")
    parser.add_argument("--model-dir", type=Path, default=Path("var") / "bench" / "route-model")
    args = parser.parse_args(argv)

    heldout = read_corpus(CORPUS / "heldout_cases.jsonl")
    router, reference = _routers(args.model_dir, read_corpus(CORPUS / "resolved_cases.jsonl"), heldout)
    for case in heldout:  # warm-up: jieba's dictionary, first-call allocations, retrieval's answers
        router.route(Complaint(case.complaint))
    queries = [heldout[i % len(heldout)] for i in range(args.queries)]
    latencies, correct, covered = [], 0, 0
    for case in queries:
        began = time.perf_counter()
        decision = router.route(Complaint(case.complaint))
        latencies.append((time.perf_counter() - began) * 1000)
        if not decision.abstained:
            covered += 1
            correct += decision.party == case.party
    latencies.sort()
    print(
        f"route without embedding, {len(queries)} calls: p50 {statistics.median(latencies):.2f} ms, "
        f"p99 {latencies[int(0.99 * len(latencies)) - 1]:.2f} ms, mean {statistics.fmean(latencies):.2f} ms"
    )
    print(
        f"held-out decisions: coverage {covered / len(queries):.3f}, selective accuracy {correct / max(covered, 1):.3f}"
    )
    if args.rounds:
        compare_cpu({"compiled": router, "scikit-learn": reference}, [case.complaint for case in heldout], args.rounds)
    return 0


def _routers(model_dir: Path, train_cases: list[CaseRecord], heldout: list[CaseRecord]) -> tuple[Router, Router]:
    """Trains and saves a model, then two routers over it: compiled scoring, and scikit-learn's objects."""
    head = FeatureConfig().head_chars
    tail = FeatureConfig().tail_chars
    catalog = load_catalog()
    examples = catalog_examples(catalog)
    every = [case.complaint for case in train_cases + heldout]
    # Heads and tails of long texts, as the classifier embeds them, and the catalog phrasings the entry model learns.
    texts = sorted(
        {text[:head] for text in every}
        | {text[-tail:] for text in every if len(text) > head}
        | {example.text[:head] for example in examples}
    )
    embedder = SentenceTransformerEmbedder(RetrievalSettings().resolved_model_path())
    started = time.perf_counter()
    vectors = dict(zip(texts, embedder.embed(texts), strict=True))
    print(f"embedded {len(texts)} texts beforehand in {time.perf_counter() - started:.1f} s (not counted below)")

    encoder = LookupEncoder(vectors, embedder.model_name, embedder.dimension)
    items = [LabelledText(case.complaint, case.party) for case in train_cases]
    model = train(
        items,
        encoder=encoder,
        signals=RoutingTrainingSignals(catalog),
        entry_examples=examples,
        progress=lambda _: None,
    )
    save_model(model, model_dir)
    cases = [
        cases_pb2.Case(id=c.id, complaint=c.complaint, resolution=c.resolution, party=c.party, category=c.category)
        for c in train_cases
    ]
    client: Any = PrecomputedRetrieval(vectors, cases, embedder.model_name)
    route_encoder = retrieval_encoder(client, model_name=embedder.model_name, dimension=embedder.dimension)
    routers = []
    for compiled in (True, False):
        models = ModelHolder(model_dir, encoder=route_encoder)
        models.reload()
        models.current.classifier.classifier.compiled = compiled
        settings = RoutingSettings()
        routers.append(
            Router(retrieval=client, encoder=route_encoder, models=models, catalog=catalog, settings=settings)
        )
    return routers[0], routers[1]


def compare_cpu(routers: dict[str, Router], texts: list[str], rounds: int) -> dict[str, float]:
    """Median CPU ms per Route call of each router, rounds alternating; raises if their decisions differ."""
    per_call: dict[str, list[float]] = {name: [] for name in routers}
    decisions: dict[str, list[RoutingDecision]] = {}
    for _ in range(rounds):
        for name, router in routers.items():
            started = time.process_time()
            decisions[name] = [router.route(Complaint(text)) for text in texts]
            per_call[name].append((time.process_time() - started) * 1000 / len(texts))
    first, *others = decisions.values()
    if any(other != first for other in others):
        raise AssertionError("the routers decided differently")
    medians = {name: statistics.median(values) for name, values in per_call.items()}
    for name, values in per_call.items():
        shown = " ".join(f"{value:.3f}" for value in values)
        print(f"{name}: CPU per Route call, median of {rounds} rounds {medians[name]:.3f} ms ({shown})")
    return medians


if __name__ == "__main__":
    raise SystemExit(main())
