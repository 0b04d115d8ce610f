"""Settings every linli process reads: logging, gRPC TLS, and the signed tokens of residents, workers and services."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from linli.settings.base import LinliSettings


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


SHARED_SETTINGS: tuple[type[LinliSettings], ...] = (AuthSettings, GrpcTlsSettings, LogSettings)


@dataclass(frozen=True)
class ProcessSettings:
    """The shared settings one process reads once, at its entry point, and hands down: logs, gRPC TLS, tokens."""

    log: LogSettings
    tls: GrpcTlsSettings
    auth: AuthSettings

    @classmethod
    def from_environment(cls) -> ProcessSettings:
        """Reads LINLI_LOG_*, LINLI_GRPC_TLS_* and LINLI_AUTH_*; called by a `main()` (or a test standing for one)."""
        return cls(LogSettings(), GrpcTlsSettings(), AuthSettings())
