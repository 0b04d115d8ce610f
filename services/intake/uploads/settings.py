"""Typed settings of photo uploads, read from LINLI_UPLOADS_* environment variables."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from linli.settings import LinliSettings


class UploadSettings(LinliSettings):
    """Where photos are kept (a local folder, or an S3-compatible store such as MinIO) and what a photo may be."""

    model_config = SettingsConfigDict(
        env_prefix="LINLI_UPLOADS_", extra="forbid", frozen=True, hide_input_in_errors=True
    )
    env_only_fields: ClassVar[frozenset[str]] = frozenset({"secret_key"})

    backend: Literal["local", "s3"] = Field(
        "local", description="`local`: files under `FOLDER`, served by intake; `s3`: an S3-compatible bucket."
    )
    folder: Path = Field(Path("var/uploads"), description="The local backend's folder.")
    endpoint: str = Field("", description="s3: host[:port] of the store, e.g. `minio:9000` or `s3.amazonaws.com`.")
    secure: bool = Field(True, description="s3: talk HTTPS to `ENDPOINT`.")
    public_endpoint: str = Field(
        "",
        description="s3: host[:port] browsers reach the store at, when it differs from `ENDPOINT` (presigned links "
        "are signed for the host they name); empty: `ENDPOINT`.",
    )
    public_secure: bool = Field(True, description="s3: presigned links use HTTPS.")
    bucket: str = Field("linli-uploads", description="s3: the bucket (created at start when missing).")
    access_key: str = Field("", description="s3: access key id.")
    secret_key: SecretStr | None = Field(None, description="s3: secret access key; environment only.")
    region: str = Field("us-east-1", description="s3: region of the bucket (MinIO's default is `us-east-1`).")
    max_bytes: int = Field(10 * 1024 * 1024, ge=1024, description="Largest photo accepted, in bytes.")
    max_pixels: int = Field(40_000_000, ge=10_000, description="Largest photo accepted, in pixels (width×height).")
    max_per_ticket: int = Field(9, ge=1, le=50, description="Photos one ticket may carry (before and after).")
    thumbnail_pixels: int = Field(320, ge=64, le=1024, description="Longest side of a thumbnail.")
    unattached_hours: int = Field(
        24,
        ge=0,
        le=24 * 365,
        description="Hours a photo no ticket took is kept; then beat's sweep deletes it (0: kept until the uploader's "
        "erasure).",
    )
    link_ttl_seconds: int = Field(600, ge=30, le=7 * 24 * 3600, description="How long a signed photo link works.")
    public_base_url: str = Field(
        "",
        description="local: the address clients reach intake at (e.g. `https://linli.example.org`), making photo "
        "links absolute; empty: ticket JSON carries paths, the upload reply the address it was called at.",
    )

    @model_validator(mode="after")
    def _s3_is_complete(self) -> UploadSettings:
        if self.backend == "s3" and not (self.endpoint and self.access_key and self.secret_key):
            raise ValueError(
                "LINLI_UPLOADS_BACKEND=s3 needs LINLI_UPLOADS_ENDPOINT, LINLI_UPLOADS_ACCESS_KEY and "
                "LINLI_UPLOADS_SECRET_KEY"
            )
        return self

    @property
    def unattached_for(self) -> timedelta | None:
        """How long an unattached photo is kept; None: until its uploader's erasure."""
        return timedelta(hours=self.unattached_hours) if self.unattached_hours else None
