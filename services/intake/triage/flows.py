"""Recording triage: a routing decision (or the manual queue) for a RECEIVED ticket, exactly once, with duplicates."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from linli.v1 import routing_pb2
from services.intake.metrics import observe_triage
from services.intake.tickets import duplicate_queries, duplicates, repository
from services.intake.tickets.context import SYSTEM, EventKind, FlowContext, Work, priority_of
from services.intake.tickets.duplicates import Embedding
from services.intake.tickets.models import EscalationLevel, Ticket, TicketStatus
from services.intake.tickets.vector_cache import VectorCache
from services.intake.triage.decision import DEFAULT_LEVEL, TriageDecision, decision_from_proto


class TriageOutcome(StrEnum):
    """What recording one triage did."""

    ROUTED = "routed"
    NEEDS_MANUAL = "needs_manual"
    MERGED = "merged"
    ALREADY_TRIAGED = "already_triaged"


@dataclass(frozen=True)
class PendingTriage:
    """What triage needs to know about a RECEIVED ticket."""

    ticket_id: str
    text: str
    community: str
    building: str


class TriageFlows:
    """The triage task's side of the ticket store."""

    def __init__(self, context: FlowContext, vectors: VectorCache | None = None) -> None:
        self._context = context
        # Open tickets' vectors, kept across triages: one per process (the worker builds its flows once).
        self._vectors = vectors if vectors is not None else VectorCache()

    def pending_triage(self, ticket_id: str) -> PendingTriage | None:
        """The ticket if it still waits for triage; None once triaged (so a repeated task does nothing)."""
        with self._context.database.reading() as session:
            status, text, community, building = repository.triage_input(ticket_id, session=session)
            if status != TicketStatus.RECEIVED.value:
                return None
            return PendingTriage(ticket_id, text, community, building)

    def record_triage(
        self, ticket_id: str, decision: routing_pb2.RoutingDecision, embedding: Embedding | None = None
    ) -> TriageOutcome:
        """Stores routing's decision on a RECEIVED ticket, merging it into an open duplicate; nothing if triaged."""
        routed = decision_from_proto(decision)
        with self._context.transaction() as work:
            ticket = repository.get(ticket_id, session=work.session, for_update=True, with_history=False)
            if ticket.status != TicketStatus.RECEIVED.value:
                return TriageOutcome.ALREADY_TRIAGED
            self._apply_decision(ticket, routed)
            if embedding is not None:
                ticket.embedding, ticket.embedding_model = embedding.to_bytes(), embedding.model
                # The ticket's changes are written once, at commit: the duplicate search reads only other tickets.
                with work.session.no_autoflush:
                    duplicate_queries.lock_community(ticket.community, session=work.session)
                    match = duplicates.find_primary(ticket, self._context, session=work.session, vectors=self._vectors)
                work.after_commit(
                    functools.partial(self._vectors.remember, ticket.id, embedding.model, embedding.vector)
                )
                if match is not None:
                    note = f"与工单 {match.primary.id} 反映的是同一问题(相似度 {match.similarity:.2f})"
                    duplicates.link(ticket, match.primary, self._context, actor=SYSTEM, note=note)
                    self._observe(work, ticket, TriageOutcome.MERGED)
                    return TriageOutcome.MERGED
            if routed.abstained:
                self._to_manual(work, ticket, note=routed.summary)
                return TriageOutcome.NEEDS_MANUAL
            if routed.party not in self._context.policy.parties:  # a model of another taxonomy: nobody's queue
                self._to_manual(work, ticket, note=f"路由结果 {routed.party!r} 不是本系统的处理方")
                return TriageOutcome.NEEDS_MANUAL
            ticket.party, ticket.status = routed.party, TicketStatus.ROUTED.value
            self._context.record(ticket, EventKind.ROUTED, SYSTEM, note=routed.summary, to_party=routed.party)
            self._context.notify(work, "routed", ticket, confidence=routed.confidence, urgency=ticket.urgency)
            self._observe(work, ticket, TriageOutcome.ROUTED)
            return TriageOutcome.ROUTED

    def send_to_manual(self, ticket_id: str, *, reason: str) -> bool:
        """Puts a RECEIVED ticket in the manual queue (triage failed for good); False if already triaged."""
        with self._context.transaction() as work:
            ticket = repository.get(ticket_id, session=work.session, for_update=True)
            if ticket.status != TicketStatus.RECEIVED.value:
                return False
            self._start_sla(ticket, hours=0, level=DEFAULT_LEVEL)
            self._to_manual(work, ticket, note=reason)
            return True

    def _apply_decision(self, ticket: Ticket, decision: TriageDecision) -> None:
        ticket.routing = decision.stored
        ticket.confidence = decision.confidence
        ticket.routed_party = decision.party
        ticket.catalog_entry = decision.catalog_entry
        ticket.urgency = decision.urgency.value
        ticket.priority = priority_of(ticket.urgency, ticket.reporter_count)
        self._start_sla(ticket, hours=decision.sla_hours, level=decision.escalation_level)

    def _start_sla(self, ticket: Ticket, *, hours: int, level: EscalationLevel) -> None:
        # The resident's clock started at submission, not when a worker got round to triage.
        ticket.sla_hours = hours if hours > 0 else self._context.policy.default_sla_hours
        ticket.escalation_level = level.value
        ticket.sla_due_at = ticket.created_at + timedelta(hours=ticket.sla_hours)

    def _to_manual(self, work: Work, ticket: Ticket, *, note: str) -> None:
        ticket.status = TicketStatus.NEEDS_MANUAL.value
        self._context.record(ticket, EventKind.NEEDS_MANUAL, SYSTEM, note=note)
        self._context.notify(work, "needs_manual", ticket, note=note)
        self._observe(work, ticket, TriageOutcome.NEEDS_MANUAL)

    def _observe(self, work: Work, ticket: Ticket, outcome: TriageOutcome) -> None:
        observe_triage(work, created_at=ticket.created_at, decided_at=self._context.clock(), outcome=outcome.value)
