"""infra/k8s/networkpolicy.yaml: who may open a connection to which role (issue #15, finding 9).

Retrieval accepts only routing, intake, the worker and itself; routing only intake and the worker; intake's HTTP
only the ingress controller (and Prometheus); everything else is denied by default. Ports come from the settings.
"""

from __future__ import annotations

from typing import Any

import pytest

from services.intake.settings import IntakeSettings
from services.retrieval.settings import RetrievalSettings
from services.routing.settings import RoutingSettings
from tests.infra.infra_files import Resource, deployments, resources

GRPC = {
    "intake": IntakeSettings.model_fields["grpc_port"].default,
    "retrieval": RetrievalSettings.model_fields["port"].default,
    "routing": RoutingSettings.model_fields["port"].default,
}
HTTP_PORT = IntakeSettings.model_fields["http_port"].default
METRICS = {
    "retrieval": RetrievalSettings.model_fields["metrics_port"].default,
    "routing": RoutingSettings.model_fields["metrics_port"].default,
    "worker": IntakeSettings.model_fields["worker_metrics_port"].default,
}
NAMESPACE_LABEL = "kubernetes.io/metadata.name"
ROLES = ("intake", "retrieval", "routing", "worker", "beat")


def policies() -> list[Resource]:
    return resources("NetworkPolicy")


def policy_of(role: str) -> Resource:
    """The one policy that selects `role`'s pods by component."""
    chosen = [
        policy
        for policy in policies()
        if policy["spec"]["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/component") == role
    ]
    assert len(chosen) == 1, f"{role}: expected one NetworkPolicy, found {len(chosen)}"
    return chosen[0]


def components_of(peer: dict[str, Any]) -> set[str] | None:
    """The linli components a `from` peer admits; None when it is not a pod selector of this namespace."""
    if "namespaceSelector" in peer or "podSelector" not in peer:
        return None
    selector = peer["podSelector"]
    if selector.get("matchLabels", {}).get("app.kubernetes.io/component"):
        return {selector["matchLabels"]["app.kubernetes.io/component"]}
    for expression in selector.get("matchExpressions", []):
        if expression["key"] == "app.kubernetes.io/component":
            assert expression["operator"] == "In"
            return set(expression["values"])
    return set(ROLES)  # any linli pod


def admitted(role: str, port: int) -> tuple[set[str], set[str]]:
    """(components, namespaces) allowed to reach `role` on `port`."""
    components: set[str] = set()
    namespaces: set[str] = set()
    for rule in policy_of(role)["spec"].get("ingress", []):
        if port not in {entry["port"] for entry in rule.get("ports", [])}:
            continue
        for peer in rule["from"]:
            found = components_of(peer)
            if found is not None:
                components |= found
            else:
                namespaces.add(peer["namespaceSelector"]["matchLabels"][NAMESPACE_LABEL])
    return components, namespaces


def test_every_pod_is_denied_ingress_by_default() -> None:
    defaults = [p for p in policies() if p["spec"]["podSelector"] == {} and "ingress" not in p["spec"]]
    assert defaults, "a default-deny policy selects every pod and allows nothing"
    assert defaults[0]["spec"]["policyTypes"] == ["Ingress"]


def test_retrieval_accepts_only_routing_intake_the_worker_and_itself() -> None:
    assert admitted("retrieval", GRPC["retrieval"]) == ({"routing", "intake", "worker", "retrieval"}, set())


def test_routing_accepts_only_intake_and_the_worker() -> None:
    assert admitted("routing", GRPC["routing"]) == ({"intake", "worker"}, set())


def test_intake_http_comes_from_the_ingress_and_its_grpc_from_linli_only() -> None:
    assert admitted("intake", HTTP_PORT) == (set(), {"ingress-nginx", "monitoring"})
    assert admitted("intake", GRPC["intake"]) == (set(ROLES), set())


@pytest.mark.parametrize("role", sorted(METRICS))
def test_metrics_ports_are_open_to_prometheus_only(role: str) -> None:
    assert admitted(role, METRICS[role]) == (set(), {"monitoring"})


def test_every_policy_selects_a_deployment_and_names_only_known_ports() -> None:
    known = {*GRPC.values(), HTTP_PORT, *METRICS.values()}
    for policy in policies():
        selector = policy["spec"]["podSelector"].get("matchLabels", {})
        if selector:
            labels = [d["spec"]["template"]["metadata"]["labels"] for d in deployments().values()]
            assert any(all(labels_.get(k) == v for k, v in selector.items()) for labels_ in labels), policy
        for rule in policy["spec"].get("ingress", []):
            assert {entry["port"] for entry in rule["ports"]} <= known, policy["metadata"]["name"]
