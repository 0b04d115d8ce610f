"""RoutingService over gRPC: translates protos to router calls."""

from __future__ import annotations

import grpc

from linli.errors import InvalidArgument
from linli.v1 import routing_pb2, routing_pb2_grpc
from services.routing.bootstrap import RouterBootstrap
from services.routing.model_holder import ServedModel
from services.routing.router import Complaint


def complaint_from_proto(message: routing_pb2.Complaint) -> Complaint:
    """The domain form of a complaint."""
    return Complaint(text=message.text, community=message.community, building=message.building)


def model_info(served: ServedModel) -> routing_pb2.ModelInfo:
    """The wire form of the model in service."""
    manifest = served.manifest
    return routing_pb2.ModelInfo(
        version=served.version,
        labels=list(manifest.labels),
        threshold=manifest.threshold,
        signals=list(served.classifier.classifier.signals),
        embedding_model=manifest.embedding.model_name if manifest.embedding else "",
    )


class RoutingServicer(routing_pb2_grpc.RoutingServiceServicer):
    """Serves Route, BatchRoute and the model's reload and description."""

    def __init__(self, bootstrap: RouterBootstrap, *, max_batch: int) -> None:
        self._bootstrap = bootstrap
        self._max_batch = max_batch

    def Route(self, request: routing_pb2.RouteRequest, context: grpc.ServicerContext) -> routing_pb2.RouteResponse:
        return routing_pb2.RouteResponse(decision=self._bootstrap.router.route(complaint_from_proto(request.complaint)))

    def BatchRoute(
        self, request: routing_pb2.BatchRouteRequest, context: grpc.ServicerContext
    ) -> routing_pb2.BatchRouteResponse:
        if not request.complaints:
            raise InvalidArgument.for_field("complaints", "give at least one complaint")
        if len(request.complaints) > self._max_batch:
            raise InvalidArgument.for_field("complaints", f"at most {self._max_batch} complaints per call")
        router = self._bootstrap.router
        decisions = [
            router.route(complaint_from_proto(c), field=f"complaints[{i}]") for i, c in enumerate(request.complaints)
        ]
        return routing_pb2.BatchRouteResponse(decisions=decisions)

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
