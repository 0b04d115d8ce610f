"""RoutingService over gRPC: translates protos to router calls, and the router's decisions to protos."""

from __future__ import annotations

import grpc
import numpy as np

from linli.errors import InvalidArgument
from linli.v1 import routing_pb2, routing_pb2_grpc
from services.routing.bootstrap import RouterBootstrap
from services.routing.decision import CatalogMatch, RoutingDecision
from services.routing.learning.prior_shift import PriorShift
from services.routing.model_holder import ServedModel
from services.routing.router import Complaint, TextVector
from services.routing.signals import CATALOG, VOTE

_URGENCY = {
    "emergency": routing_pb2.URGENCY_EMERGENCY,
    "urgent": routing_pb2.URGENCY_URGENT,
    "normal": routing_pb2.URGENCY_NORMAL,
}
_LEVEL = {
    "building": routing_pb2.ESCALATION_LEVEL_BUILDING,
    "community": routing_pb2.ESCALATION_LEVEL_COMMUNITY,
    "street": routing_pb2.ESCALATION_LEVEL_STREET,
}
_SIGNAL = {
    "classifier": routing_pb2.DECIDING_SIGNAL_CLASSIFIER,
    CATALOG: routing_pb2.DECIDING_SIGNAL_CATALOG,
    VOTE: routing_pb2.DECIDING_SIGNAL_CASE_VOTE,
}


def complaint_from_proto(
    message: routing_pb2.Complaint, embedding: routing_pb2.TextEmbedding | None = None
) -> Complaint:
    """The domain form of a complaint, with the caller's vector of its text when one was sent."""
    given = None
    if embedding is not None and embedding.values:
        given = TextVector(np.asarray(embedding.values, dtype=np.float32), embedding.model)
    return Complaint(text=message.text, community=message.community, building=message.building, embedding=given)


def decision_to_proto(decision: RoutingDecision) -> routing_pb2.RoutingDecision:
    """The wire form of a decision."""
    rationale = decision.rationale
    deciding = rationale.deciding_signal
    return routing_pb2.RoutingDecision(
        party=decision.party,
        confidence=decision.confidence,
        abstained=decision.abstained,
        alternatives=[routing_pb2.PartyScore(party=a.party, probability=a.probability) for a in decision.alternatives],
        rationale=routing_pb2.Rationale(
            deciding_signal=routing_pb2.DECIDING_SIGNAL_NONE if deciding is None else _SIGNAL[deciding],
            summary=rationale.summary,
            opinions=[
                routing_pb2.SignalOpinion(signal=_SIGNAL[o.signal], party=o.party, probability=o.probability)
                for o in rationale.opinions
            ],
            catalog_entry=None if rationale.catalog_entry is None else _catalog_match(rationale.catalog_entry),
        ),
        suggested_resolution=decision.suggested_resolution,
        similar_cases=decision.similar_cases,
        category=decision.category,
        router_version=decision.router_version,
        urgency=_URGENCY[decision.urgency],
        urgency_notice=decision.urgency_notice,
        sla_hours=decision.sla_hours,
        escalation_level=_LEVEL[decision.escalation_level],
        co_parties=list(decision.co_parties),
        other_issues=[
            routing_pb2.OtherIssue(entry=_catalog_match(other.entry), excerpt=other.excerpt)
            for other in decision.other_issues
        ],
    )


def _catalog_match(match: CatalogMatch) -> routing_pb2.CatalogMatch:
    return routing_pb2.CatalogMatch(
        entry_id=match.entry_id, name=match.name, score=match.score, party=match.party, basis=match.basis
    )


def _text_embedding(vector: TextVector | None) -> routing_pb2.TextEmbedding:
    """The wire form of a complaint's vector; no values when routing had none of the text as sent."""
    if vector is None:
        return routing_pb2.TextEmbedding()
    return routing_pb2.TextEmbedding(values=vector.vector.tolist(), model=vector.model)


def model_info(served: ServedModel) -> routing_pb2.ModelInfo:
    """The wire form of the model in service."""
    manifest = served.manifest
    return routing_pb2.ModelInfo(
        version=served.version,
        labels=list(manifest.labels),
        threshold=manifest.threshold,
        signals=list(served.classifier.classifier.signals),
        embedding_model=manifest.embedding.model_name if manifest.embedding else "",
        estimated_priors={} if manifest.prior_shift is None else _priors(manifest.prior_shift),
    )


def _priors(shift: PriorShift) -> dict[str, float]:
    return dict(zip(shift.labels, shift.estimated, strict=True))


class RoutingServicer(routing_pb2_grpc.RoutingServiceServicer):
    """Serves Route, BatchRoute and the model's reload and description."""

    def __init__(self, bootstrap: RouterBootstrap, *, max_batch: int) -> None:
        self._bootstrap = bootstrap
        self._max_batch = max_batch

    def Route(self, request: routing_pb2.RouteRequest, context: grpc.ServicerContext) -> routing_pb2.RouteResponse:
        embedding = request.embedding if request.HasField("embedding") else None
        complaint = complaint_from_proto(request.complaint, embedding)
        decision, vector = self._bootstrap.router.route_with_vector(complaint)
        response = routing_pb2.RouteResponse(decision=decision_to_proto(decision))
        if vector is not None:
            response.text_embedding.CopyFrom(_text_embedding(vector))
        return response

    def BatchRoute(
        self, request: routing_pb2.BatchRouteRequest, context: grpc.ServicerContext
    ) -> routing_pb2.BatchRouteResponse:
        if not request.complaints:
            raise InvalidArgument.for_field("complaints", "give at least one complaint")
        if len(request.complaints) > self._max_batch:
            raise InvalidArgument.for_field("complaints", f"at most {self._max_batch} complaints per call")
        routed = self._bootstrap.router.route_many([complaint_from_proto(c) for c in request.complaints])
        response = routing_pb2.BatchRouteResponse(decisions=[decision_to_proto(decision) for decision, _ in routed])
        if request.include_text_embeddings:
            response.text_embeddings.extend(_text_embedding(vector) for _, vector in routed)
        return response

    def ReloadModel(
        self, request: routing_pb2.ReloadModelRequest, context: grpc.ServicerContext
    ) -> routing_pb2.ReloadModelResponse:
        models = self._bootstrap.router.models
        changed = models.reload()  # a bad model raises FAILED_PRECONDITION and the running one stays
        return routing_pb2.ReloadModelResponse(model=model_info(models.current), changed=changed)

    def GetModelInfo(
        self, request: routing_pb2.GetModelInfoRequest, context: grpc.ServicerContext
    ) -> routing_pb2.GetModelInfoResponse:
        return routing_pb2.GetModelInfoResponse(model=model_info(self._bootstrap.router.models.current))
