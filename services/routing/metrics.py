"""Routing's metrics, declared: RPCs, confidence, decisions by party and outcome, urgent ones, the router version,
and whether a caller's vector of the text spared an Embed.

`observability.py` reads the decision metrics off the responses the server sends (a hook of the RPC interceptor), so
they count exactly what callers were told. Abstain rate:
`sum(rate(linli_routing_decisions_total{outcome="abstained"}[5m])) / sum(rate(linli_routing_decisions_total[5m]))`.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, Info

from linli.metrics import RpcMetrics

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
