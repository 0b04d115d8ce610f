"""The router: asks retrieval for precedents, lets them vote, and abstains when the vote is not clear."""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from linli.errors import InvalidArgument, from_rpc_error
from linli.parties import DEFAULT_PARTIES
from linli.settings import RoutingSettings
from linli.v1 import cases_pb2, retrieval_pb2, retrieval_pb2_grpc, routing_pb2
from services.routing.vote import explain, vote

ROUTER_VERSION = "case-vote-1"
MAX_TEXT_CHARS = 2000


@dataclass(frozen=True)
class Complaint:
    """What the router is asked about."""

    text: str
    community: str = ""
    building: str = ""


class CaseVoteRouter:
    """Routes by a similarity-weighted vote of the closest resolved cases."""

    def __init__(self, retrieval: retrieval_pb2_grpc.RetrievalServiceStub, settings: RoutingSettings) -> None:
        self._retrieval = retrieval
        self._settings = settings

    def route(self, complaint: Complaint, *, field: str = "complaint") -> routing_pb2.RoutingDecision:
        """Decides one complaint; raises InvalidArgument for bad text, Unavailable when retrieval is down."""
        text = complaint.text.strip()
        if not text:
            raise InvalidArgument.for_field(f"{field}.text", "must not be empty")
        if len(text) > MAX_TEXT_CHARS:
            raise InvalidArgument.for_field(f"{field}.text", f"must be at most {MAX_TEXT_CHARS} characters")
        precedents = self._precedents(text)
        outcome = vote(
            precedents,
            parties=DEFAULT_PARTIES,
            min_similarity=self._settings.min_similarity,
            temperature=self._settings.vote_temperature,
        )
        abstained = outcome.winner is None or outcome.confidence < self._settings.min_confidence
        ranked = sorted(outcome.probabilities.items(), key=lambda kv: -kv[1])
        best = outcome.best_precedent
        return routing_pb2.RoutingDecision(
            party="" if abstained else (outcome.winner or ""),
            confidence=outcome.confidence if outcome.winner else ranked[0][1],
            abstained=abstained,
            alternatives=[routing_pb2.PartyScore(party=p, probability=prob) for p, prob in ranked],
            rationale=routing_pb2.Rationale(
                deciding_signal=routing_pb2.DECIDING_SIGNAL_NONE
                if abstained
                else routing_pb2.DECIDING_SIGNAL_CASE_VOTE,
                summary=explain(outcome, abstained=abstained, threshold=self._settings.min_confidence),
            ),
            suggested_resolution="" if abstained or best is None else best.case.resolution,
            similar_cases=precedents,
            category="" if best is None else best.case.category,
            router_version=ROUTER_VERSION,
        )

    def _precedents(self, text: str) -> list[cases_pb2.ScoredCase]:
        request = retrieval_pb2.SearchCasesRequest(
            text=text, k=self._settings.neighbours, filter=cases_pb2.CaseFilter(resolved_only=True)
        )
        try:
            response = self._retrieval.SearchCases(request, timeout=self._settings.rpc_timeout_seconds)
        except grpc.RpcError as error:
            raise from_rpc_error(error, service="retrieval") from error
        return list(response.results)
