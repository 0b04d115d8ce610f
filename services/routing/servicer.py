"""RoutingService over gRPC: translates protos to router calls."""

from __future__ import annotations

import grpc

from linli.errors import InvalidArgument
from linli.v1 import routing_pb2, routing_pb2_grpc
from services.routing.router import CaseVoteRouter, Complaint


def complaint_from_proto(message: routing_pb2.Complaint) -> Complaint:
    """The domain form of a complaint."""
    return Complaint(text=message.text, community=message.community, building=message.building)


class RoutingServicer(routing_pb2_grpc.RoutingServiceServicer):
    """Serves Route and BatchRoute."""

    def __init__(self, router: CaseVoteRouter, *, max_batch: int) -> None:
        self._router = router
        self._max_batch = max_batch

    def Route(self, request: routing_pb2.RouteRequest, context: grpc.ServicerContext) -> routing_pb2.RouteResponse:
        return routing_pb2.RouteResponse(decision=self._router.route(complaint_from_proto(request.complaint)))

    def BatchRoute(
        self, request: routing_pb2.BatchRouteRequest, context: grpc.ServicerContext
    ) -> routing_pb2.BatchRouteResponse:
        if not request.complaints:
            raise InvalidArgument.for_field("complaints", "give at least one complaint")
        if len(request.complaints) > self._max_batch:
            raise InvalidArgument.for_field("complaints", f"at most {self._max_batch} complaints per call")
        decisions = [
            self._router.route(complaint_from_proto(c), field=f"complaints[{i}]")
            for i, c in enumerate(request.complaints)
        ]
        return routing_pb2.BatchRouteResponse(decisions=decisions)
