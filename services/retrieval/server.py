"""The retrieval gRPC server: factory, loading of model and index, and the process entry point."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from linli.embedding import Embedder, create_embedder, model_fingerprint
from linli.embedding.backends import OnnxInt8Embedder
from linli.embedding.config import embedded_model_path
from linli.grpc_auth import service_only_interceptor
from linli.grpc_serving import ServerHandle, build_server, serve_until_stopped
from linli.logs import configure_logging
from linli.settings import ProcessSettings
from linli.tokens import TokenCodec
from linli.v1 import retrieval_pb2, retrieval_pb2_grpc
from services.retrieval.batching import MicroBatcher
from services.retrieval.index import IndexParams, VectorStorage
from services.retrieval.memory import CaseMemory
from services.retrieval.observability import instrumented_embedder, server_metrics
from services.retrieval.servicer import RetrievalServicer
from services.retrieval.settings import RetrievalSettings
from services.retrieval.snapshots import SnapshotStore
from services.retrieval.store import CaseStore

logger = logging.getLogger(__name__)

SERVICE = retrieval_pb2.DESCRIPTOR.services_by_name["RetrievalService"]
SERVICE_NAME = SERVICE.full_name


@dataclass
class RetrievalDeps:
    """What the server needs; anything left None is built from settings while the server reports NOT_SERVING."""

    embedder: Embedder | None = None
    store: CaseStore | None = None
    tokens: TokenCodec | None = None  # None: the keys of the process's AuthSettings


@dataclass
class RetrievalServer:
    """A running retrieval server: its gRPC handle and, once loaded, its case memory."""

    handle: ServerHandle
    servicer: RetrievalServicer
    settings: RetrievalSettings
    stop_background: threading.Event  # ends the snapshot and change-feed threads
    batcher: MicroBatcher | None = None

    def stop(self, grace: float = 5.0) -> None:
        """Stops serving, then writes a last snapshot so the next start loads instead of rebuilding."""
        self.stop_background.set()
        self.handle.stop(grace)
        memory = self.servicer.loaded_memory
        if memory is not None:
            try:
                memory.snapshot()
            except Exception:
                logger.exception("final snapshot failed; the previous one stays")
        if self.batcher is not None:  # after the calls in flight: they may still be waiting for their batch
            self.batcher.close()


def gains_from_batches(model: Embedder) -> bool:
    """Whether gathering concurrent calls into batches saves the model work: not for the int8 path running each
    text alone (its default), where a batcher would only add two thread hand-offs and its wait to every call."""
    return not (isinstance(model, OnnxInt8Embedder) and model.texts_per_run == 1)


def build_memory(settings: RetrievalSettings, deps: RetrievalDeps) -> CaseMemory:
    """Loads model, case store and index (newest valid snapshot, else a rebuild), and seeds an empty store."""
    embedder = deps.embedder or create_embedder(settings.embedder_config())
    settings.index_dir.mkdir(parents=True, exist_ok=True)
    store = deps.store or CaseStore.from_url(settings.resolved_case_store_url())
    model_path = settings.model_path or embedded_model_path()
    memory = CaseMemory(
        embedder,
        store,
        max_k=settings.max_k,
        max_batch=settings.max_batch,
        params=IndexParams(hnsw_threshold=settings.hnsw_threshold).stored_as(VectorStorage(settings.index_storage)),
        snapshots=SnapshotStore(settings.index_dir / "snapshots"),
        model_checksum=vectors_checksum(model_path, embedder),
        case_cache_size=settings.case_cache_size,
    )
    count = memory.load()
    if settings.seed_corpus is not None:
        count += memory.seed(settings.seed_corpus)
    logger.info("case memory loaded", extra={"cases": count, "model": embedder.model_name})
    return memory


def vectors_checksum(model_path: Path | None, embedder: Embedder) -> str:
    """What a snapshot's vectors depend on: the weights' bytes and the embedder's name, which carries its backend."""
    if model_path is None:
        return embedder.model_name
    return f"{model_fingerprint(model_path)}:{embedder.model_name}"


def create_server(
    settings: RetrievalSettings, deps: RetrievalDeps | None = None, *, process: ProcessSettings
) -> RetrievalServer:
    """Starts a retrieval server on settings.host:port; it turns SERVING once model and index are loaded."""
    deps = deps or RetrievalDeps()
    tokens = deps.tokens or TokenCodec.from_settings(process.auth)
    servicer = RetrievalServicer()
    handle = build_server(
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        service_names=[SERVICE_NAME],
        register=lambda server: retrieval_pb2_grpc.add_RetrievalServiceServicer_to_server(servicer, server),
        metrics=server_metrics(settings, lambda: servicer.loaded_memory),
        # Every method, reads too: searches return case texts. Health and reflection stay open.
        interceptors=[service_only_interceptor(SERVICE, tokens)],
        tls=process.tls,
    )
    server = RetrievalServer(handle, servicer, settings, threading.Event())

    def load() -> None:
        model = deps.embedder or create_embedder(settings.embedder_config())
        embedder: Embedder = instrumented_embedder(model)
        if gains_from_batches(model):
            # Embed and SearchCases-by-text calls of many handler threads share model calls through one batcher.
            server.batcher = MicroBatcher(embedder, wait_ms=settings.batch_wait_ms, max_batch=settings.max_batch)
            embedder = server.batcher
        settings.index_dir.mkdir(parents=True, exist_ok=True)  # the SQLite store's folder when no URL is set
        store = deps.store or CaseStore.from_url(settings.resolved_case_store_url())
        memory = build_memory(settings, RetrievalDeps(embedder=embedder, store=store))
        servicer.attach(memory)
        threading.Thread(
            target=follow_store,
            args=(memory, settings.follow_interval_seconds, server.stop_background, handle.set_serving),
            name="follow-store",
            daemon=True,
        ).start()
        if settings.change_prune_interval_seconds > 0:
            retention = timedelta(hours=settings.change_retention_hours)
            threading.Thread(
                target=prune_feed_periodically,
                args=(store, retention, settings.change_prune_interval_seconds, server.stop_background),
                name="prune-feed",
                daemon=True,
            ).start()
        if settings.snapshot_interval_seconds > 0:
            threading.Thread(
                target=snapshot_periodically,
                args=(memory, settings.snapshot_interval_seconds, server.stop_background),
                name="snapshots",
                daemon=True,
            ).start()

    handle.load_then_serve(load)
    return server


# A replica that cannot read the change feed for this long says NOT_SERVING: its answers may miss recent cases.
FOLLOW_LAG_LIMIT_SECONDS = 10.0


def follow_store(
    memory: CaseMemory,
    interval: float,
    stop: threading.Event,
    set_serving: Callable[[bool], None],
    lag_limit: float = FOLLOW_LAG_LIMIT_SECONDS,
) -> None:
    """Applies the case store's change feed every `interval` seconds until `stop` (docs/adr/0011); NOT_SERVING while
    the feed has been unreadable for more than `lag_limit` seconds."""
    caught_up_at = time.monotonic()
    serving = True
    while not stop.wait(interval):
        try:
            memory.catch_up()
        except Exception:
            logger.exception("reading the case store's change feed failed; will retry")
            if serving and time.monotonic() - caught_up_at > lag_limit:
                serving = False
                set_serving(False)
            continue
        caught_up_at = time.monotonic()
        if not serving:
            serving = True
            set_serving(True)


def snapshot_periodically(memory: CaseMemory, interval: float, stop: threading.Event) -> None:
    """Writes a snapshot every `interval` seconds when the index changed since the last one."""
    written_at = memory.stats().updated_at
    while not stop.wait(interval):
        changed_at = memory.stats().updated_at
        if changed_at == written_at:
            continue
        try:
            memory.snapshot()
            written_at = changed_at
        except Exception:
            logger.exception("periodic snapshot failed; will retry")


def prune_feed_periodically(store: CaseStore, retention: timedelta, interval: float, stop: threading.Event) -> None:
    """Deletes the feed's changes older than `retention` now and every `interval` seconds until `stop` (any replica
    may: the writers' lock serialises them, and a replica whose changes were pruned rebuilds; docs/adr/0011).

    Now as well: replicas restarted more often than `interval` would otherwise never mark the feed, nor prune it.
    """
    while True:
        try:
            pruned = store.prune_changes(retention)
            logger.info("change feed pruned", extra={"deleted": pruned.deleted, "through_seq": pruned.through})
        except Exception:
            logger.exception("pruning the case store's change feed failed; will retry")
        if stop.wait(interval):
            return


def main() -> int:
    """Serves retrieval until SIGTERM or SIGINT, then stops gracefully (with a last snapshot)."""
    process = ProcessSettings.from_environment()
    configure_logging("retrieval", process.log)
    settings = RetrievalSettings()
    server = create_server(settings, process=process)
    logger.info("retrieval listening", extra={"address": f"{settings.host}:{server.handle.port}"})
    return serve_until_stopped(server.handle, server.stop)
