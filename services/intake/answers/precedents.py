"""Where instant answers come from: resolved cases close in meaning to the question, from retrieval's SearchCases."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import grpc

from linli.errors import from_rpc_error
from linli.v1 import cases_pb2, retrieval_pb2, retrieval_pb2_grpc


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
    """CaseSearch over retrieval's gRPC API, with a deadline; the intake's RetrievalClient has no search."""

    def __init__(self, channel: grpc.Channel, *, timeout_seconds: float) -> None:
        self._stub = retrieval_pb2_grpc.RetrievalServiceStub(channel)
        self._timeout = timeout_seconds

    def similar_resolved(self, text: str, *, k: int) -> list[Precedent]:
        """The `k` closest resolved cases of every community (a precedent elsewhere answers as well)."""
        request = retrieval_pb2.SearchCasesRequest(text=text, k=k, filter=cases_pb2.CaseFilter(resolved_only=True))
        try:
            response: retrieval_pb2.SearchCasesResponse = self._stub.SearchCases(request, timeout=self._timeout)
        except grpc.RpcError as error:
            raise from_rpc_error(error, service="retrieval") from error
        return [
            Precedent(
                case_id=hit.case.id,
                complaint=hit.case.complaint,
                resolution=hit.case.resolution,
                party=hit.case.party,
                category=hit.case.category,
                score=hit.score,
            )
            for hit in response.results
        ]
