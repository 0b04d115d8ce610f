"""Settings of services the tests start on this machine: loopback, free ports, no polling."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from linli.settings import ProcessSettings
from services.intake.auth.settings import SmsSettings, WeChatOaSettings, WecomSettings
from services.intake.notifications.settings import NotificationSettings
from services.intake.settings import IntakeConfig, IntakeSettings, RateLimitSettings
from services.intake.uploads.settings import UploadSettings
from services.retrieval.settings import RetrievalSettings
from services.routing.settings import RoutingSettings


def retrieval_settings(index_dir: Path, seed_corpus: Path | None, **overrides: Any) -> RetrievalSettings:
    """Retrieval on a free loopback port over `index_dir`, seeded from `seed_corpus`; snapshots only when asked."""
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": 0,
        "metrics_port": 0,
        "index_dir": index_dir,
        "seed_corpus": seed_corpus,
        "snapshot_interval_seconds": 0,
    }
    return RetrievalSettings(**(values | overrides))


def routing_settings(retrieval_port: int, model_dir: Path, **overrides: Any) -> RoutingSettings:
    """Routing on a free loopback port asking the retrieval server on `retrieval_port`, serving `model_dir`
    (trained from `train_corpus` if given and the folder is empty); it reloads only when told."""
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": 0,
        "metrics_port": 0,
        "retrieval_target": f"127.0.0.1:{retrieval_port}",
        "model_dir": model_dir,
        "train_corpus": None,
        "model_poll_seconds": 0,
    }
    return RoutingSettings(**(values | overrides))


def intake_config(settings: IntakeSettings) -> IntakeConfig:
    """`settings` with the rate limit, notification and shared settings of the environment, as intake's main() reads
    them."""
    return IntakeConfig(
        settings,
        RateLimitSettings(),
        NotificationSettings(),
        ProcessSettings.from_environment(),
        SmsSettings(),
        WeChatOaSettings(),
        UploadSettings(),
        WecomSettings(),
    )
