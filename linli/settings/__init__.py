"""Typed settings read from LINLI_* environment variables: the base class and the settings every process shares.

Each service has its own prefix so that one environment can hold them all, and a misspelt variable under a
known prefix is an error at start rather than a silently ignored setting. A service's own settings live in that
service (`services/<service>/settings.py`); `services/cli` gathers them all for the README table.
"""

from linli.settings.base import DEFAULT_STATE_DIR, INSTALL_ROOT, LinliSettings
from linli.settings.shared import (
    MIN_AUTH_SECRET_LENGTH,
    SHARED_SETTINGS,
    AuthSettings,
    GrpcTlsSettings,
    LogSettings,
    ProcessSettings,
)
from linli.settings.table import settings_table

__all__ = [
    "DEFAULT_STATE_DIR",
    "INSTALL_ROOT",
    "MIN_AUTH_SECRET_LENGTH",
    "SHARED_SETTINGS",
    "AuthSettings",
    "GrpcTlsSettings",
    "LinliSettings",
    "LogSettings",
    "ProcessSettings",
    "settings_table",
]
