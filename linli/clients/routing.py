"""The one client of the routing service: decisions, and the model's reload and description."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import grpc

from linli.clients.calls import Metadata, intercepted
from linli.clients.retrieval import EmbeddedTexts
from linli.v1 import routing_pb2, routing_pb2_grpc

SERVICE = "routing"


@dataclass(frozen=True)
class RoutedComplaint:
    """Routing's decision, and the vector of the complaint's text exactly as sent when routing had one."""

    decision: routing_pb2.RoutingDecision
    embedding: EmbeddedTexts | None


class RoutesComplaints(Protocol):
    """What routes one complaint at a time: the client itself, or calls sharing batches (intake's worker)."""

    def route(self, *, text: str, community: str, building: str) -> RoutedComplaint:
        """The decision for one complaint, and its text's vector when routing had one."""


class RoutingClient:
    """Calls routing with a deadline; failures come back as LinliErrors (Unavailable when it is down).

    Every RPC of routing needs a service's or an admin's token: each call carries `credentials()` as metadata.
    """

    def __init__(self, channel: grpc.Channel, *, timeout_seconds: float, credentials: Callable[[], Metadata]) -> None:
        self._stub = routing_pb2_grpc.RoutingServiceStub(intercepted(channel, SERVICE))
        self._timeout = timeout_seconds
        self._credentials = credentials

    def route(
        self, *, text: str, community: str, building: str, embedding: EmbeddedTexts | None = None
    ) -> RoutedComplaint:
        """The decision for one complaint; raises Unavailable when routing (or retrieval behind it) is down.

        `embedding` (retrieval's Embed of exactly `text`, one row) spares routing embedding the text again; the
        answer's embedding is that vector or the one routing made, None for a long text (or an older server).
        """
        request = routing_pb2.RouteRequest(
            complaint=routing_pb2.Complaint(text=text, community=community, building=building)
        )
        if embedding is not None:
            request.embedding.CopyFrom(
                routing_pb2.TextEmbedding(values=embedding.vectors[0].tolist(), model=embedding.model)
            )
        response: routing_pb2.RouteResponse = self._stub.Route(
            request, timeout=self._timeout, metadata=self._credentials()
        )
        returned = response.text_embedding
        return RoutedComplaint(response.decision, EmbeddedTexts.of_one(returned.values, returned.model))

    def route_many(self, complaints: Sequence[routing_pb2.Complaint]) -> list[RoutedComplaint]:
        """The decisions of several complaints in one BatchRoute call, in order, each with its vector as `route`
        gives it (at most routing's batch limit; one invalid complaint fails the call, naming `complaints[i]`)."""
        response: routing_pb2.BatchRouteResponse = self._stub.BatchRoute(
            routing_pb2.BatchRouteRequest(complaints=list(complaints), include_text_embeddings=True),
            timeout=self._timeout,
            metadata=self._credentials(),
        )
        vectors = response.text_embeddings or [routing_pb2.TextEmbedding()] * len(response.decisions)
        return [
            RoutedComplaint(decision, EmbeddedTexts.of_one(vector.values, vector.model))
            for decision, vector in zip(response.decisions, vectors, strict=True)
        ]

    def reload_model(self) -> routing_pb2.ReloadModelResponse:
        """Has the server switch to the model now in its model directory (a bad one is refused)."""
        response: routing_pb2.ReloadModelResponse = self._stub.ReloadModel(
            routing_pb2.ReloadModelRequest(), timeout=self._timeout, metadata=self._credentials()
        )
        return response

    def model_info(self) -> routing_pb2.GetModelInfoResponse:
        """The model the server answers with."""
        response: routing_pb2.GetModelInfoResponse = self._stub.GetModelInfo(
            routing_pb2.GetModelInfoRequest(), timeout=self._timeout, metadata=self._credentials()
        )
        return response
