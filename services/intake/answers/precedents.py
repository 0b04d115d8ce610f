"""Where instant answers come from: resolved cases close in meaning to the question, from retrieval's SearchCases."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from linli.clients.retrieval import RetrievalClient


@dataclass(frozen=True)
class Precedent:
    """A resolved case retrieval found for the question."""

    case_id: str
    complaint: str
    resolution: str
    party: str
    category: str
    score: float


class CaseSearch(Protocol):
    """Finds resolved cases close in meaning to a text (retrieval's SearchCases)."""

    def similar_resolved(self, text: str, *, k: int) -> list[Precedent]:
        """The `k` closest resolved cases, closest first; raises a LinliError (Unavailable when retrieval is down)."""
        ...


class RetrievalCaseSearch:
    """CaseSearch over retrieval's client: its scored cases as intake's precedents."""

    def __init__(self, retrieval: RetrievalClient) -> None:
        self._retrieval = retrieval

    def similar_resolved(self, text: str, *, k: int) -> list[Precedent]:
        """The `k` closest resolved cases of every community (a precedent elsewhere answers as well)."""
        return [
            Precedent(
                case_id=hit.case.id,
                complaint=hit.case.complaint,
                resolution=hit.case.resolution,
                party=hit.case.party,
                category=hit.case.category,
                score=hit.score,
            )
            for hit in self._retrieval.similar_resolved(k=k, text=text)
        ]
