"""Every table of the ticket database, on one Base: each noun declares its own, and this module imports them all.

Alembic's environment and the migration tests compare the migrations against `METADATA`; `Base.metadata` alone only
knows the models whose module has been imported.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import MetaData

from services.intake.audit.models import AuditEvent
from services.intake.auth.models import RevokedSubject, SmsCode
from services.intake.database import Base
from services.intake.inbox.models import SavedView
from services.intake.meetings.models import MeetingItem
from services.intake.messages.models import TicketMessage
from services.intake.organisation.models import Community, Party, Street, WorkerAccount
from services.intake.search.models import is_search_structure
from services.intake.tickets.models import RoutingCorrection, Ticket, TicketEvent
from services.intake.uploads.models import Upload

TABLES = (
    Ticket,
    TicketEvent,
    RoutingCorrection,
    RevokedSubject,
    MeetingItem,
    TicketMessage,
    SmsCode,
    Upload,
    Street,
    Community,
    Party,
    WorkerAccount,
    AuditEvent,
    SavedView,
)
METADATA: MetaData = Base.metadata


def declared_by_models(name: str | None, type_: str, _parents: Any) -> bool:
    """False for what migration 0013 adds for ticket search and no model declares (FTS5 tables, trigram and
    character-pair indexes): schema comparisons (Alembic's `include_name`) leave those alone."""
    return not (type_ in ("table", "index") and is_search_structure(name))
