"""The router's decision as the domain sees it; routing's servicer turns it into the RoutingDecision proto."""

from __future__ import annotations

from dataclasses import dataclass

from linli.v1 import cases_pb2


@dataclass(frozen=True)
class PartyScore:
    """One party's probability."""

    party: str
    probability: float


@dataclass(frozen=True)
class CatalogMatch:
    """A responsibility-catalog entry the text matched, with the entry's party and legal basis."""

    entry_id: str
    name: str
    score: float
    party: str
    basis: str


@dataclass(frozen=True)
class SignalOpinion:
    """What one signal alone would have decided."""

    signal: str  # "classifier", or a signal of services/routing/signals.py (catalog, vote)
    party: str
    probability: float


@dataclass(frozen=True)
class Rationale:
    """Why: the deciding signal (None when abstaining), a summary for people, each signal's opinion, the entry."""

    deciding_signal: str | None
    summary: str
    opinions: tuple[SignalOpinion, ...]
    catalog_entry: CatalogMatch | None


@dataclass(frozen=True)
class OtherIssue:
    """A further problem the same message raises, for another catalog entry (一单多事)."""

    entry: CatalogMatch
    excerpt: str


@dataclass(frozen=True)
class RoutingDecision:
    """Who handles a complaint, how sure the router is, and what goes with it (urgency, SLA, precedents)."""

    party: str  # "" when abstaining
    confidence: float
    abstained: bool
    alternatives: tuple[PartyScore, ...]  # every label, most probable first
    rationale: Rationale
    suggested_resolution: str
    similar_cases: tuple[cases_pb2.ScoredCase, ...]  # retrieval's precedents, as its client returns them
    category: str
    router_version: str
    urgency: str  # "emergency", "urgent" or "normal"
    urgency_notice: str
    sla_hours: int
    escalation_level: str  # "building", "community" or "street"
    co_parties: tuple[str, ...]
    other_issues: tuple[OtherIssue, ...]
