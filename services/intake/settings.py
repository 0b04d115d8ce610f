"""Typed settings of the intake service (LINLI_INTAKE_*) and of its front's rate limits (LINLI_RATE_*)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from linli.parties import DEFAULT_PARTIES, is_party_id
from linli.settings import DEFAULT_STATE_DIR, LinliSettings, ProcessSettings
from services.intake.auth.settings import SmsSettings, WeChatOaSettings, WecomSettings
from services.intake.notifications.settings import NotificationSettings
from services.intake.uploads.settings import UploadSettings

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
    database_pool_size: int = Field(
        20,
        ge=1,
        le=200,
        description="PostgreSQL connections each intake process (HTTP server, worker) keeps open: threads beyond it "
        "open and close a connection per transaction.",
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
        description="Check duplicates with the vector routing made of the text and sent back with its decision "
        "(one Embed per ticket, no Embed call of the worker's own); off only to measure the difference.",
    )
    triage_route_batch: int = Field(
        8,
        ge=1,
        le=64,
        description="Most tickets a worker sends routing in one call (BatchRoute); 1 sends each alone.",
    )
    triage_route_calls: int = Field(
        4,
        ge=1,
        le=64,
        description="Calls to routing a worker has in flight at once. A ticket goes at once while fewer are; those "
        "triaged meanwhile wait for a call to return and go together in the next (docs/adr/0018).",
    )
    broker_visibility_timeout_seconds: int = Field(
        180,
        ge=6,
        description="Redis broker: a task not acknowledged this long (its worker died) is delivered again; "
        "must exceed the triage time limit.",
    )
    worker_concurrency: int = Field(
        32,
        ge=1,
        le=128,
        description="Triage tasks a Celery worker runs at once, in threads: a triage mostly waits on routing and the "
        "database, and the tickets of threads waiting together share routing calls (`TRIAGE_ROUTE_BATCH`).",
    )
    workers: int = Field(8, ge=1, le=256, description="gRPC handler threads.")
    known_communities: list[str] = Field(
        list(DEFAULT_COMMUNITIES),
        min_length=1,
        description="Seeds the communities table at every start (the ones it lacks, on no street); tickets, topics, "
        "meetings and Open311 accept the table's active communities, which admins extend with `linli org`.",
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
    contact_reveals_per_hour: int = Field(
        30,
        ge=0,
        description="Residents' callback numbers one worker may read in full (`GET /v1/tickets/{id}/contact`) per "
        "sliding hour, all at once if need be; the same ticket again within the hour is not counted; 0: off.",
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


@dataclass(frozen=True)
class IntakeConfig:
    """Every setting an intake process reads, once, in its main(): its own, its front's rate limits, its
    notifications, its residents' SMS and official-account logins, its photo uploads, its workers' WeCom login, and
    the ones every process shares."""

    intake: IntakeSettings
    rates: RateLimitSettings
    notifications: NotificationSettings
    process: ProcessSettings
    sms: SmsSettings
    wechat_oa: WeChatOaSettings
    uploads: UploadSettings
    wecom: WecomSettings = field(default_factory=WecomSettings)

    @classmethod
    def from_environment(cls) -> IntakeConfig:
        """Reads LINLI_INTAKE_*, LINLI_RATE_*, LINLI_NOTIFY_*, LINLI_SMS_*, LINLI_WECHAT_OA_*, LINLI_UPLOADS_*,
        LINLI_WECOM_* and the shared LINLI_* settings."""
        return cls(
            IntakeSettings(),
            RateLimitSettings(),
            NotificationSettings(),
            ProcessSettings.from_environment(),
            SmsSettings(),
            WeChatOaSettings(),
            UploadSettings(),
            WecomSettings(),
        )
