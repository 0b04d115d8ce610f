"""Retrieval's observability: the timed embedder, the index collector read at scrape time, the server's metrics."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from linli.embedding import Embedder
from linli.embedding.text_encoder import TextEncoder
from linli.metrics import ServerMetrics, ServiceMetrics
from services.retrieval.memory import CaseMemory
from services.retrieval.metrics import EMBED_BATCH_SIZE, EMBED_SECONDS, REGISTRY, RPC
from services.retrieval.settings import RetrievalSettings
from services.retrieval.snapshots import SnapshotStore


def _observe_embed_batch(size: int, seconds: float) -> None:
    EMBED_SECONDS.observe(seconds)
    EMBED_BATCH_SIZE.observe(size)


def instrumented_embedder(inner: Embedder) -> TextEncoder:
    """`inner`, recording the size and time of every batch it hands to the model."""
    return TextEncoder(
        inner.embed, model_name=inner.model_name, dimension=inner.dimension, observe=_observe_embed_batch
    )


class IndexCollector(Collector):
    """Index size, stale fraction and snapshot age, read when Prometheus scrapes (nothing before the index loads)."""

    def __init__(self, memory: Callable[[], CaseMemory | None], snapshots: SnapshotStore | None) -> None:
        self._memory = memory
        self._snapshots = snapshots

    def collect(self) -> Iterator[Metric]:
        """Yields the gauges of the loaded index."""
        memory = self._memory()
        if memory is None:
            return
        stats = memory.stats()
        yield GaugeMetricFamily("linli_retrieval_index_size", "Cases in the search index.", value=stats.case_count)
        yield GaugeMetricFamily(
            "linli_retrieval_index_stale_fraction",
            "Share of the index taken by deleted or replaced vectors not yet rebuilt away.",
            value=stats.stale_fraction,
        )
        manifest = self._snapshots.newest_manifest() if self._snapshots is not None else None
        if manifest is not None:
            age = datetime.now(UTC) - datetime.fromisoformat(manifest.created_at)
            yield GaugeMetricFamily(
                "linli_retrieval_snapshot_age_seconds",
                "Age of the newest snapshot on disk: what a restart would catch up from the case store.",
                value=age.total_seconds(),
            )


def server_metrics(settings: RetrievalSettings, memory: Callable[[], CaseMemory | None]) -> ServerMetrics:
    """What a retrieval server records, exposed on `settings.metrics_port`."""
    snapshots = SnapshotStore(Path(settings.index_dir) / "snapshots")
    return ServerMetrics(
        ServiceMetrics(RPC, REGISTRY),
        port=settings.metrics_port,
        host=settings.host,
        collectors=(IndexCollector(memory, snapshots),),
    )
