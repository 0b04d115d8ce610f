"""The learning loop's side of the ticket store: resolved cases for retrieval, transfers as routing corrections."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from linli.pii import scrub
from services.intake.tickets import repository
from services.intake.tickets.context import FlowContext
from services.intake.tickets.models import TicketStatus

CASE_ID_PREFIX = "ticket-"
NO_CATALOG_ENTRY = "(none)"


def case_id(ticket_id: str) -> str:
    """The id of a ticket's case in retrieval: prefixed, so it never collides with a corpus case."""
    return f"{CASE_ID_PREFIX}{ticket_id}"


class SyncAction(StrEnum):
    """What retrieval must do with a ticket's case."""

    UPSERT = "upsert"
    DELETE = "delete"


@dataclass(frozen=True)
class LearnedCase:
    """A resolved ticket as a precedent: scrubbed of personal data, with the party that really handled it."""

    id: str
    complaint: str
    resolution: str
    party: str
    category: str
    community: str
    building: str
    created_at: datetime
    resolved_at: datetime | None


@dataclass(frozen=True)
class CaseSync:
    """One pending sync, and the ticket version it was read at (a later change queues its own sync)."""

    action: SyncAction
    case: LearnedCase | None
    case_id: str
    version: datetime


@dataclass(frozen=True)
class TransferRate:
    """Of the tickets the router sent somewhere (by party or catalog entry): how many were transferred."""

    key: str
    routed: int
    transferred: int

    @property
    def rate(self) -> float:
        """Share transferred, 0 when nothing was routed."""
        return self.transferred / self.routed if self.routed else 0.0


class LearningFlows:
    """Case syncs for the retrieval index, the corrections export and the transfer report."""

    def __init__(self, context: FlowContext) -> None:
        self._context = context

    def pending_case_sync(self, ticket_id: str) -> CaseSync | None:
        """What retrieval must learn (a resolved ticket) or forget (a reopened one); None when nothing is pending."""
        with self._context.transaction() as work:
            ticket = repository.get(ticket_id, session=work.session)
            if not ticket.case_sync_pending:
                return None
            learnable = ticket.status in (TicketStatus.RESOLVED.value, TicketStatus.CLOSED.value)
            if not learnable or ticket.primary_id is not None:
                # Reopened, or a duplicate resolved along with its primary: no precedent of its own.
                return CaseSync(SyncAction.DELETE, None, case_id(ticket.id), ticket.updated_at)
            case = LearnedCase(
                id=case_id(ticket.id),
                complaint=scrub(ticket.text),
                resolution=scrub(ticket.resolution),
                party=ticket.party,
                category=ticket.catalog_entry,
                community=ticket.community,
                building=ticket.building,
                created_at=ticket.created_at,
                resolved_at=ticket.resolved_at,
            )
            return CaseSync(SyncAction.UPSERT, case, case.id, ticket.updated_at)

    def mark_case_synced(self, ticket_id: str, version: datetime) -> bool:
        """Clears the pending flag if the ticket has not changed since `version`; False if it has."""
        with self._context.transaction() as work:
            ticket = repository.get(ticket_id, session=work.session, for_update=True)
            if ticket.updated_at != version:
                return False
            ticket.case_sync_pending = False
            return True

    def corrections(self) -> list[dict[str, str]]:
        """One `{"text", "from", "to"}` per transferred ticket: the router's party and where workers left it.

        Intermediate hops are not labels: A→B→C teaches "C, not A"; A→B→A teaches nothing and is left out.
        """
        first_from: dict[str, str] = {}
        last: dict[str, tuple[str, str]] = {}
        with self._context.transaction() as work:
            for correction in repository.corrections(session=work.session):
                first_from.setdefault(correction.ticket_id, correction.from_party)
                last[correction.ticket_id] = (correction.text, correction.to_party)
        lines = []
        for ticket_id, (text, to_party) in last.items():
            if first_from[ticket_id] != to_party:
                lines.append({"text": text, "from": first_from[ticket_id], "to": to_party})
        return lines

    def transfer_rates(self) -> tuple[list[TransferRate], list[TransferRate]]:
        """Transfer rates of routed tickets, by the router's party and by catalog entry."""
        with self._context.transaction() as work:
            by_party = repository.routed_counts("routed_party", session=work.session)
            by_entry = repository.routed_counts("catalog_entry", session=work.session)
        return (
            [TransferRate(key, *counts) for key, counts in by_party.items()],
            [TransferRate(key or NO_CATALOG_ENTRY, *counts) for key, counts in by_entry.items()],
        )
