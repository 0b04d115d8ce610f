"""Settings of history imports, read from LINLI_HISTORY_* environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from linli.settings import LinliSettings


class HistorySettings(LinliSettings):
    """`linli history import`: when an inferred party is sure enough to train the router on."""

    model_config = SettingsConfigDict(env_prefix="LINLI_HISTORY_", extra="forbid", frozen=True)

    min_confidence: float = Field(
        0.8,
        ge=0.0,
        le=1.0,
        description="An imported message whose inferred party is less probable than this keeps an empty label: "
        "a precedent only, never training data (`linli history import --min-confidence`).",
    )
