"""The base of every linli settings class: environment only, strict about unknown variables under its prefix."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

from pydantic import model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

DEFAULT_STATE_DIR = Path("var")
# The folder holding `linli/` and `services/`: packaged defaults (the seed corpus) are shown relative to it.
INSTALL_ROOT = Path(__file__).resolve().parents[2]


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
