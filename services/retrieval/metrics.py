"""Retrieval's metrics, declared: RPCs, embedding batches and time, index search time.

`observability.py` feeds them and adds index size and snapshot age, read at scrape time.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram

from linli.metrics import LATENCY_BUCKETS, RpcMetrics

REGISTRY = CollectorRegistry()
RPC = RpcMetrics("retrieval", REGISTRY)

EMBED_BATCH_SIZE = Histogram(
    "linli_retrieval_embed_batch_size",
    "Texts per call of the embedding model (after micro-batching of concurrent requests).",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
    registry=REGISTRY,
)
EMBED_SECONDS = Histogram(
    "linli_retrieval_embed_seconds",
    "Time of one call of the embedding model.",
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
SEARCH_SECONDS = Histogram(
    "linli_retrieval_search_seconds",
    "Time of one index search with its filter and case reads, without embedding the query, by index kind.",
    ["index"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
