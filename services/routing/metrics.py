"""Routing's metrics: RPCs, confidence, decisions by party and outcome, urgent decisions, the router version, and
whether a caller's vector of the text spared an Embed.

The decision metrics are read off the responses the server sends (a hook of the RPC interceptor), so they count
exactly what callers were told. Abstain rate: `sum(rate(linli_routing_decisions_total{outcome="abstained"}[5m]))
/ sum(rate(linli_routing_decisions_total[5m]))`.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, Info

from linli.metrics import RpcMetrics, ServerMetrics, ServiceMetrics
from linli.parties import DEFAULT_PARTIES
from linli.settings import RoutingSettings
from linli.v1 import routing_pb2

REGISTRY = CollectorRegistry()
RPC = RpcMetrics("routing", REGISTRY)

CONFIDENCE = Histogram(
    "linli_routing_confidence",
    "Vote share of the leading party in each decision, abstentions included.",
    buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0),
    registry=REGISTRY,
)
DECISIONS = Counter(
    "linli_routing_decisions",
    "Routing decisions by party (`none` when abstained) and outcome (`routed` or `abstained`).",
    ["party", "outcome"],
    registry=REGISTRY,
)
URGENT_DECISIONS = Counter(
    "linli_routing_urgent_decisions",
    "Decisions that flagged the complaint urgent or an emergency, by urgency.",
    ["urgency"],
    registry=REGISTRY,
)
# Set from the decisions themselves: the version that answered is the one that counts, whatever was deployed.
MODEL = Info(
    "linli_routing_model", "Version of the router (and its model) that made the latest decision.", registry=REGISTRY
)

GIVEN_EMBEDDINGS = Counter(
    "linli_routing_given_embeddings",
    "Route calls by what became of the caller's vector of the text: `reused` (no Embed of that text here), "
    "`other_model` (embedded again) or `absent` (none was sent).",
    ["use"],
    registry=REGISTRY,
)

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


def observe_given_embedding(use: str) -> None:
    """Counts one complaint by what became of the vector its caller sent (see GIVEN_EMBEDDINGS)."""
    GIVEN_EMBEDDINGS.labels(use).inc()


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
