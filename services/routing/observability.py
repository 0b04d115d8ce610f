"""Routing's observability: decisions read off the responses the server sends, and the server's metrics."""

from __future__ import annotations

from collections.abc import Iterable

from linli.metrics import ServerMetrics, ServiceMetrics
from linli.parties import DEFAULT_PARTIES
from linli.v1 import routing_pb2
from services.routing.metrics import CONFIDENCE, DECISIONS, MODEL, REGISTRY, RPC, URGENT_DECISIONS
from services.routing.settings import RoutingSettings

_URGENCY_LABELS = {routing_pb2.URGENCY_URGENT: "urgent", routing_pb2.URGENCY_EMERGENCY: "emergency"}
# Any party outside the known ones is counted together: a label value must come from a small fixed set.
OTHER_PARTY = "other"


def observe_decisions(decisions: Iterable[routing_pb2.RoutingDecision], parties: Iterable[str]) -> None:
    """Records decisions that were sent to a caller."""
    known = frozenset(parties)
    for decision in decisions:
        CONFIDENCE.observe(decision.confidence)
        if decision.abstained:
            DECISIONS.labels("none", "abstained").inc()
        else:
            DECISIONS.labels(decision.party if decision.party in known else OTHER_PARTY, "routed").inc()
        urgency = _URGENCY_LABELS.get(decision.urgency)
        if urgency is not None:
            URGENT_DECISIONS.labels(urgency).inc()
        if decision.router_version:
            set_router_version(decision.router_version)


def set_router_version(version: str) -> None:
    """Shows `version` as the current router's, replacing the one shown before."""
    MODEL.info({"router_version": version})


def server_metrics(settings: RoutingSettings) -> ServerMetrics:
    """What a routing server records, exposed on `settings.metrics_port`."""
    parties = DEFAULT_PARTIES
    hooks = {
        "RoutingService/Route": lambda response: observe_decisions([response.decision], parties),
        "RoutingService/BatchRoute": lambda response: observe_decisions(response.decisions, parties),
    }
    return ServerMetrics(ServiceMetrics(RPC, REGISTRY, hooks), port=settings.metrics_port, host=settings.host)
