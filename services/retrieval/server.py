"""The retrieval gRPC server: factory, loading of model and index, and the process entry point."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from linli.grpc_serving import ServerHandle, build_server, serve_until_stopped
from linli.logs import configure_logging
from linli.settings import RetrievalSettings
from linli.v1 import retrieval_pb2, retrieval_pb2_grpc
from services.retrieval.embedder import Embedder, SentenceTransformerEmbedder
from services.retrieval.memory import CaseMemory
from services.retrieval.servicer import RetrievalServicer
from services.retrieval.store import CaseStore

logger = logging.getLogger(__name__)

SERVICE_NAME = retrieval_pb2.DESCRIPTOR.services_by_name["RetrievalService"].full_name


@dataclass
class RetrievalDeps:
    """What the server needs; anything left None is built from settings while the server reports NOT_SERVING."""

    embedder: Embedder | None = None
    store: CaseStore | None = None


def create_server(settings: RetrievalSettings, deps: RetrievalDeps | None = None) -> ServerHandle:
    """Starts a retrieval server on settings.host:port; it turns SERVING once model and index are loaded."""
    deps = deps or RetrievalDeps()
    servicer = RetrievalServicer()
    handle = build_server(
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        service_names=[SERVICE_NAME],
        register=lambda server: retrieval_pb2_grpc.add_RetrievalServiceServicer_to_server(servicer, server),
    )

    def load() -> None:
        embedder = deps.embedder or SentenceTransformerEmbedder(
            settings.resolved_model_path(), max_seq_length=settings.max_seq_length
        )
        store = deps.store
        if store is None:
            settings.index_dir.mkdir(parents=True, exist_ok=True)
            store = CaseStore.from_url(f"sqlite:///{settings.index_dir / 'cases.sqlite'}")
        memory = CaseMemory(embedder, store, max_k=settings.max_k, max_batch=settings.max_batch)
        count = memory.load()
        if settings.seed_corpus is not None:
            count += memory.seed(settings.seed_corpus)
        logger.info("case memory loaded", extra={"cases": count, "model": embedder.model_name})
        servicer.attach(memory)

    handle.load_then_serve(load)
    return handle


def main() -> int:
    """Serves retrieval until SIGTERM or SIGINT, then stops gracefully."""
    configure_logging("retrieval")
    settings = RetrievalSettings()
    handle = create_server(settings)
    logger.info("retrieval listening", extra={"address": f"{settings.host}:{handle.port}"})
    return serve_until_stopped(handle)
