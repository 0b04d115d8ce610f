"""Retrieval and routing in a child process of their own, built by the services' own factories, for the probes.

`python -m tests.security.case_services INDEX_DIR MODEL_DIR RETRIEVAL_PORT ROUTING_PORT` serves until SIGTERM.
A hash embedder stands in for m3e-small and the routing model is trained on its vectors before routing starts, so
the pair is SERVING in seconds: the probes are about who may call, not about what the answers mean. Routing reaches
retrieval over gRPC with the service tokens it signs itself, as in production.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from linli.catalog import load_catalog
from linli.grpc_serving import serve_until_stopped
from linli.settings import ProcessSettings
from services.retrieval.server import RetrievalDeps
from services.retrieval.server import create_server as create_retrieval
from services.routing.learning.data import LabelledText
from services.routing.learning.features import EmbedderEncoder, FeatureConfig
from services.routing.learning.model_dir import save_model
from services.routing.learning.training import TrainingConfig, train
from services.routing.server import create_server as create_routing
from services.routing.signals import RoutingTrainingSignals
from tests.local_servers import retrieval_settings, routing_settings
from tests.unit.fakes import HashEmbedder

CORPUS = Path(__file__).resolve().parents[2] / "services" / "retrieval" / "corpus" / "starter_cases.jsonl"
EMBEDDER = HashEmbedder(dimension=32, name="hash-embedder")
READY_SECONDS = 60.0


def train_model(model_dir: Path) -> None:
    """A small routing model over the hash vectors of the starter cases."""
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]
    model = train(
        [LabelledText(row["complaint"], row["party"]) for row in rows],
        config=TrainingConfig(features=FeatureConfig(word_ngrams=None), folds=3),
        encoder=EmbedderEncoder(EMBEDDER),
        signals=RoutingTrainingSignals(load_catalog()),
    )
    save_model(model, model_dir)


def main(argv: list[str]) -> int:
    """Serves retrieval and routing on the given ports until SIGTERM or SIGINT."""
    index_dir, model_dir, retrieval_port, routing_port = Path(argv[0]), Path(argv[1]), int(argv[2]), int(argv[3])
    train_model(model_dir)
    process = ProcessSettings.from_environment()  # this module is a main(): it reads the shared settings once
    retrieval = create_retrieval(
        retrieval_settings(index_dir, CORPUS, port=retrieval_port), RetrievalDeps(embedder=EMBEDDER), process=process
    )
    if not retrieval.handle.wait_ready(READY_SECONDS):
        raise SystemExit(f"retrieval did not load: {retrieval.handle.load_error}")
    routing = create_routing(routing_settings(retrieval_port, model_dir, port=routing_port), process=process)

    def stop_both() -> None:
        routing.stop(5)
        retrieval.stop(5)

    return serve_until_stopped(routing, stop_both)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
