"""The intake side of the routing contract: one call, with a deadline, errors mapped to the domain."""

from __future__ import annotations

import grpc

from linli.errors import from_rpc_error
from linli.v1 import routing_pb2, routing_pb2_grpc


class RoutingClient:
    """Asks the routing service for a decision."""

    def __init__(self, channel: grpc.Channel, *, timeout_seconds: float) -> None:
        self._stub = routing_pb2_grpc.RoutingServiceStub(channel)
        self._timeout = timeout_seconds

    def route(self, *, text: str, community: str, building: str) -> routing_pb2.RoutingDecision:
        """The decision for one complaint; raises Unavailable when routing (or retrieval behind it) is down."""
        request = routing_pb2.RouteRequest(
            complaint=routing_pb2.Complaint(text=text, community=community, building=building)
        )
        try:
            response: routing_pb2.RouteResponse = self._stub.Route(request, timeout=self._timeout)
        except grpc.RpcError as error:
            raise from_rpc_error(error, service="routing") from error
        return response.decision
