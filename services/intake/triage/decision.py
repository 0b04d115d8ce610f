"""Routing's decision as intake keeps it: the one translation from the RoutingDecision proto to intake's terms."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format

from linli.v1 import routing_pb2
from services.intake.tickets.models import EscalationLevel, Urgency
from services.intake.tickets.precedent_privacy import resident_summary

_URGENCY = {
    routing_pb2.URGENCY_NORMAL: Urgency.NORMAL,
    routing_pb2.URGENCY_URGENT: Urgency.URGENT,
    routing_pb2.URGENCY_EMERGENCY: Urgency.EMERGENCY,
}
_LEVEL = {
    routing_pb2.ESCALATION_LEVEL_BUILDING: EscalationLevel.BUILDING,
    routing_pb2.ESCALATION_LEVEL_COMMUNITY: EscalationLevel.COMMUNITY,
    routing_pb2.ESCALATION_LEVEL_STREET: EscalationLevel.STREET,
}
# Until routing names a level, a ticket starts where the residents' committee sees it.
DEFAULT_LEVEL = EscalationLevel.COMMUNITY


@dataclass(frozen=True)
class TriageDecision:
    """What triage records on a ticket.

    Attributes:
        party: who handles it; "" when routing abstained.
        summary: why, without quoting any precedent: the note of the ticket's routed (or manual) event.
        catalog_entry: the responsibility-catalog entry it rests on, else routing's category.
        sla_hours: handling deadline; 0 when routing named none (the policy's default applies).
        stored: the whole decision as the ticket keeps it and the HTTP API shows it (`routing`).
    """

    party: str
    confidence: float
    abstained: bool
    summary: str
    catalog_entry: str
    urgency: Urgency
    sla_hours: int
    escalation_level: EscalationLevel
    stored: dict[str, Any]


def decision_from_proto(decision: routing_pb2.RoutingDecision) -> TriageDecision:
    """Intake's form of routing's decision; unset urgency or level read as normal and the community."""
    # The stored form is the proto's JSON with its own field names: tickets stored before keep the same shape.
    stored: dict[str, Any] = json_format.MessageToDict(decision, preserving_proto_field_name=True)
    return TriageDecision(
        party="" if decision.abstained else decision.party,
        confidence=decision.confidence,
        abstained=decision.abstained,
        # The note every reader of the ticket's history sees: the router's own summary quotes a precedent.
        summary=resident_summary(stored),
        catalog_entry=decision.rationale.catalog_entry.entry_id or decision.category,
        urgency=_URGENCY.get(decision.urgency, Urgency.NORMAL),
        sla_hours=decision.sla_hours,
        escalation_level=_LEVEL.get(decision.escalation_level, DEFAULT_LEVEL),
        stored=stored,
    )
