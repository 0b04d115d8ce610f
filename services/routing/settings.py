"""Typed settings of the routing service, read from LINLI_ROUTING_* environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from linli.settings import DEFAULT_STATE_DIR, INSTALL_ROOT, LinliSettings


class RoutingSettings(LinliSettings):
    """The routing service: how precedents become a decision, and when to abstain."""

    model_config = SettingsConfigDict(env_prefix="LINLI_ROUTING_", extra="forbid", frozen=True)

    @field_validator("train_corpus", "catalog_path", "min_confidence", mode="before")
    @classmethod
    def _empty_means_none(cls, value: Any) -> Any:
        return None if value == "" else value

    host: str = Field("127.0.0.1", description="Address the gRPC server binds.")
    port: int = Field(50053, ge=0, le=65535, description="gRPC port; 0 picks a free one.")
    metrics_port: int = Field(9103, ge=0, le=65535, description="Port of `/metrics` (Prometheus); 0 picks a free one.")
    retrieval_target: str = Field("127.0.0.1:50052", description="host:port of the retrieval service.")
    neighbours: int = Field(10, ge=1, le=50, description="Precedents retrieved for each vote.")
    min_confidence: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="Abstain below this probability; unset uses the threshold tuned at training for the target "
        "precision (see `linli train routing --target-precision`).",
    )
    model_dir: Path = Field(
        DEFAULT_STATE_DIR / "models" / "routing",
        description="Folder of the routing model (`linli train routing --out`); re-read when it changes.",
    )
    train_corpus: Path | None = Field(
        INSTALL_ROOT / "services" / "retrieval" / "corpus" / "resolved_cases.jsonl",
        description="When the model folder is empty at start, a model is trained on this JSONL first; empty: fail.",
    )
    catalog_path: Path | None = Field(
        None, description="Responsibility catalog YAML; default: the packaged `linli/catalog/data` one."
    )
    model_poll_seconds: float = Field(
        30.0, ge=0.0, description="How often the model folder is checked for a new model; 0 only on ReloadModel."
    )
    min_similarity: float = Field(0.55, ge=-1.0, le=1.0, description="Precedents less similar than this do not vote.")
    vote_temperature: float = Field(
        0.05, gt=0, le=1.0, description="How fast a precedent's vote weight falls with distance from the best match."
    )
    rpc_timeout_seconds: float = Field(5.0, gt=0, description="Deadline of each call to retrieval.")
    max_batch: int = Field(64, ge=1, le=1024, description="Most complaints per BatchRoute call.")
    workers: int = Field(8, ge=1, le=256, description="gRPC handler threads.")
