"""Every table of the ticket database, on one Base: each noun declares its own, and this module imports them all.

Alembic's environment and the migration tests compare the migrations against `METADATA`; `Base.metadata` alone only
knows the models whose module has been imported.
"""

from __future__ import annotations

from sqlalchemy import MetaData

from services.intake.auth.models import RevokedSubject, SmsCode
from services.intake.database import Base
from services.intake.inbox.models import SavedView
from services.intake.meetings.models import MeetingItem
from services.intake.messages.models import TicketMessage
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
    SavedView,
)
METADATA: MetaData = Base.metadata
