"""The routing decision as the tickets API shows it: precedents for workers, their count for residents."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from services.intake.tickets.precedent_privacy import routing_for_reader, similar_resolved_count


class PartyScoreOut(BaseModel):
    """A candidate party and its probability."""

    party: str
    probability: float


class SimilarCaseOut(BaseModel):
    """A resolved precedent behind a routing decision (workers only; scrubbed of personal data)."""

    id: str
    complaint: str
    resolution: str
    party: str
    category: str
    score: float


class CatalogEntryOut(BaseModel):
    """The responsibility-catalog entry the complaint matched."""

    entry_id: str
    name: str
    party: str
    basis: str


class OtherIssueOut(BaseModel):
    """A further problem the message raises, for another catalog entry than the decision's ("一单多事")."""

    entry_id: str
    name: str
    party: str
    score: float = Field(description="Strength of the textual evidence for the entry, in [0, 1].")
    excerpt: str = Field(
        description="The passage of the message that raises it, as the resident wrote it, without the connective "
        "(另外, 还有, 2、) that tied it to the rest."
    )


class RoutingOut(BaseModel):
    """The triage decision."""

    party: str
    confidence: float
    abstained: bool
    alternatives: list[PartyScoreOut]
    deciding_signal: str
    rationale: str = Field(description="Workers: the router's summary, scrubbed. Residents: one without quotes.")
    catalog_entry: CatalogEntryOut | None
    suggested_resolution: str
    category: str
    similar_cases: list[SimilarCaseOut] = Field(
        description="Workers: the precedents, scrubbed. Residents: always empty (other residents' complaints)."
    )
    similar_resolved_count: int = Field(description="How many similar resolved cases the decision drew on.")
    router_version: str
    co_parties: list[str]
    sla_hours: int
    other_issues: list[OtherIssueOut] = Field(
        description="Further problems of the message, strongest first: each may be split into a ticket of its own."
    )


def routing_out(stored: dict[str, Any] | None, *, sees_precedents: bool) -> RoutingOut | None:
    """The stored decision (proto JSON form) as the API shows it to a worker (`sees_precedents`) or a resident."""
    if stored is None:
        return None
    count = similar_resolved_count(stored)
    stored = routing_for_reader(stored, sees_precedents=sees_precedents)
    rationale = stored.get("rationale", {})
    entry = rationale.get("catalog_entry")
    return RoutingOut(
        party=stored.get("party", ""),
        confidence=stored.get("confidence", 0.0),
        abstained=stored.get("abstained", False),
        alternatives=[
            PartyScoreOut(party=a["party"], probability=a.get("probability", 0.0))
            for a in stored.get("alternatives", [])
        ],
        deciding_signal=rationale.get("deciding_signal", "DECIDING_SIGNAL_UNSPECIFIED")
        .removeprefix("DECIDING_SIGNAL_")
        .lower(),
        rationale=rationale.get("summary", ""),
        catalog_entry=CatalogEntryOut(
            entry_id=entry.get("entry_id", ""),
            name=entry.get("name", ""),
            party=entry.get("party", ""),
            basis=entry.get("basis", ""),
        )
        if entry
        else None,
        suggested_resolution=stored.get("suggested_resolution", ""),
        category=stored.get("category", ""),
        similar_cases=[
            SimilarCaseOut(
                id=hit["case"].get("id", ""),
                complaint=hit["case"].get("complaint", ""),
                resolution=hit["case"].get("resolution", ""),
                party=hit["case"].get("party", ""),
                category=hit["case"].get("category", ""),
                score=hit.get("score", 0.0),
            )
            for hit in stored.get("similar_cases", [])
        ],
        similar_resolved_count=count,
        router_version=stored.get("router_version", ""),
        co_parties=list(stored.get("co_parties", [])),
        sla_hours=int(stored.get("sla_hours", 0)),
        other_issues=[other_issue_out(issue) for issue in stored.get("other_issues", [])],
    )


def other_issue_out(stored: dict[str, Any]) -> OtherIssueOut:
    """One stored OtherIssue (proto JSON form) as the API shows it."""
    entry = stored.get("entry", {})
    return OtherIssueOut(
        entry_id=entry.get("entry_id", ""),
        name=entry.get("name", ""),
        party=entry.get("party", ""),
        score=entry.get("score", 0.0),
        excerpt=stored.get("excerpt", ""),
    )
