"""The rules ops rely on, checked on infra/: a non-root pinned image, probes that mean ready, limits, hardened pods,
one beat, retrieval replicas that roll one at a time, autoscalers and budgets that fit, and commands the `linli` CLI
knows."""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any

import pytest

from services.cli.main import build_parser
from services.intake.settings import IntakeSettings
from services.retrieval.settings import RetrievalSettings
from services.routing.settings import RoutingSettings
from tests.infra.infra_files import (
    KUSTOMIZATION,
    ROOT,
    SECRET_TEMPLATE,
    Resource,
    compose,
    containers,
    deployments,
    dockerfile_env,
    dockerfile_instructions,
    load_yaml_documents,
    manifest_files,
    pod_spec,
    quantity,
    resources,
    selects,
)

IMAGE_UID = 10001
ROLES = ("intake", "retrieval", "routing", "worker", "beat")
# gRPC port of each serving role, as the settings define it: the manifests and compose must agree.
GRPC_PORTS = {
    "intake": IntakeSettings.model_fields["grpc_port"].default,
    "retrieval": RetrievalSettings.model_fields["port"].default,
    "routing": RoutingSettings.model_fields["port"].default,
}
# Singleton roles: one replica, replaced with Recreate, never autoscaled (docs/operations.md, "Scale").
SINGLE_INSTANCE = ("beat",)
AUTOSCALED = ("intake", "routing", "worker")
# A fixed number of replicas, each holding a whole index that follows the shared case store (docs/adr/0011).
REPLICATED = ("retrieval",)
HTTP_APP = ROOT / "services" / "intake" / "http_app.py"
TMP_MOUNT = "/tmp"  # noqa: S108 - a mount path in the manifests, not a temporary file of this test


def test_dockerfile_builds_a_non_root_multi_stage_image_from_pinned_bases() -> None:
    instructions = dockerfile_instructions()
    bases = [i.words()[0] for i in instructions if i.keyword == "FROM"]
    assert len(bases) >= 2, "multi-stage: build tools stay out of the runtime image"
    for base in bases:
        _, _, tag = base.partition(":")
        assert re.search(r"\d+\.\d+\.\d+", tag), f"{base}: pin the base image to an exact version"
    users = [i.arguments for i in instructions if i.keyword == "USER"]
    assert users, "the image must not run as root"
    assert users[-1].split(":")[0] == str(IMAGE_UID), "numeric uid, so Kubernetes' runAsNonRoot can verify it"
    runs = " ".join(i.arguments for i in instructions if i.keyword == "RUN")
    assert re.search(r"--index-url https://download\.pytorch\.org/whl/cpu torch==\d", runs), "CPU torch, pinned"


def test_dockerfile_declares_index_and_model_volumes() -> None:
    volumes = [word for i in dockerfile_instructions() if i.keyword == "VOLUME" for word in i.words()]
    assert dockerfile_env()["LINLI_RETRIEVAL_INDEX_DIR"] in volumes
    assert "/models" in volumes


def test_every_role_has_a_deployment_and_a_compose_service() -> None:
    assert set(deployments()) == set(ROLES)
    assert set(ROLES) <= set(compose()["services"])


def role_commands() -> list[tuple[str, list[str]]]:
    commands = [(f"k8s/{name}", list(c["args"])) for name, d in deployments().items() for c in containers(d)]
    commands += [(f"compose/{name}", list(compose()["services"][name]["command"])) for name in ROLES]
    return commands


@pytest.mark.parametrize(("where", "argv"), role_commands(), ids=[where for where, _ in role_commands()])
def test_role_command_is_a_linli_command(where: str, argv: list[str]) -> None:
    try:
        build_parser().parse_args(argv)
    except SystemExit:
        pytest.fail(f"{where}: `linli {' '.join(argv)}` is not a command of services/cli/main.py")


@pytest.mark.parametrize("name", ROLES)
def test_deployment_is_hardened(name: str) -> None:
    deployment = deployments()[name]
    pod = pod_spec(deployment)
    pod_security = pod.get("securityContext", {})
    assert pod.get("enableServiceLinks") is False
    assert pod.get("automountServiceAccountToken") is False, "no pod needs the Kubernetes API"
    volumes = {volume["name"]: volume for volume in pod.get("volumes", [])}
    for container in containers(deployment):
        security = {**pod_security, **container.get("securityContext", {})}
        assert security.get("runAsNonRoot") is True
        assert security.get("runAsUser") == IMAGE_UID
        assert security.get("seccompProfile", {}).get("type") == "RuntimeDefault"
        assert security.get("allowPrivilegeEscalation") is False
        assert security.get("readOnlyRootFilesystem") is True
        assert security.get("capabilities", {}).get("drop") == ["ALL"]
        mounts = {mount["mountPath"]: mount["name"] for mount in container.get("volumeMounts", [])}
        assert TMP_MOUNT in mounts, "a read-only root needs a writable /tmp"
        assert "emptyDir" in volumes[mounts[TMP_MOUNT]]


@pytest.mark.parametrize("name", ROLES)
def test_deployment_requests_and_limits_cpu_and_memory(name: str) -> None:
    for container in containers(deployments()[name]):
        requests = container["resources"]["requests"]
        limits = container["resources"]["limits"]
        for resource in ("cpu", "memory"):
            assert quantity(limits[resource]) >= quantity(requests[resource]), f"{resource}: limit below request"
    if name == "retrieval":
        # torch, m3e-small and the index: measured ~0.9 GiB peak with the starter corpus.
        assert quantity(containers(deployments()[name])[0]["resources"]["requests"]["memory"]) >= 1.5 * 2**30


def container_ports(container: Resource) -> dict[str, int]:
    return {port["name"]: port["containerPort"] for port in container.get("ports", [])}


@pytest.mark.parametrize("name", sorted(GRPC_PORTS))
def test_serving_role_has_native_grpc_probes(name: str) -> None:
    (container,) = containers(deployments()[name])
    ports = container_ports(container)
    assert ports["grpc"] == GRPC_PORTS[name]
    for probe in ("startupProbe", "livenessProbe"):
        assert container[probe]["grpc"]["port"] == ports["grpc"], f"{probe} must ask grpc.health.v1"
    readiness = container["readinessProbe"]
    if "grpc" in readiness:
        assert readiness["grpc"]["port"] == ports["grpc"]
    else:
        assert name == "intake", "only intake has an HTTP readiness check"
        path = readiness["httpGet"]["path"]
        assert f'@app.get("{path}"' in HTTP_APP.read_text(encoding="utf-8"), f"intake serves no {path}"
        assert readiness["httpGet"]["port"] in (ports["http"], "http")


def test_worker_has_a_liveness_probe() -> None:
    (container,) = containers(deployments()["worker"])
    command = " ".join(container["livenessProbe"]["exec"]["command"])
    assert "inspect ping" in command
    assert "$HOSTNAME" in command, "ping this worker, not any worker"


def autoscalers() -> dict[str, Resource]:
    return {hpa["spec"]["scaleTargetRef"]["name"]: hpa for hpa in resources("HorizontalPodAutoscaler")}


@pytest.mark.parametrize("name", SINGLE_INSTANCE)
def test_single_instance_role_never_runs_twice(name: str) -> None:
    spec = deployments()[name]["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"]["type"] == "Recreate", "a rolling update would run two for a while"
    assert name not in autoscalers()


@pytest.mark.parametrize("name", AUTOSCALED)
def test_autoscaled_role_leaves_replicas_to_its_autoscaler(name: str) -> None:
    hpa = autoscalers()[name]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"]["kind"] == "Deployment"
    # A replicas field would reset the autoscaler's choice on every `kubectl apply`.
    assert "replicas" not in deployments()[name]["spec"]
    assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]


@pytest.mark.parametrize("name", REPLICATED)
def test_replicated_role_rolls_one_pod_at_a_time_and_keeps_no_state(name: str) -> None:
    deployment = deployments()[name]
    spec = deployment["spec"]
    assert spec["replicas"] >= 3, "two stay up while one is replaced or drained"
    assert spec["strategy"]["type"] == "RollingUpdate"
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 1
    assert name not in autoscalers()
    volumes = pod_spec(deployment).get("volumes", [])
    assert all("persistentVolumeClaim" not in volume for volume in volumes), "a shared claim would pin one writer"
    (container,) = containers(deployment)
    from_secret = {
        variable["name"] for variable in container.get("env", []) if "secretKeyRef" in variable.get("valueFrom", {})
    }
    assert "LINLI_RETRIEVAL_CASE_STORE_URL" in from_secret, "every replica must share one case store"


def fewest_replicas(name: str) -> int:
    if name in autoscalers():
        return int(autoscalers()[name]["spec"]["minReplicas"])
    return int(deployments()[name]["spec"]["replicas"])


def test_disruption_budgets_cover_every_multi_replica_role_and_never_block_a_drain() -> None:
    covered: set[str] = set()
    for budget in resources("PodDisruptionBudget"):
        selector = budget["spec"]["selector"]["matchLabels"]
        (name,) = [name for name, deployment in deployments().items() if selects(selector, deployment)]
        # minAvailable must stay below the fewest replicas, or a node drain waits forever.
        assert budget["spec"]["minAvailable"] < fewest_replicas(name)
        covered.add(name)
    assert covered == set(AUTOSCALED) | set(REPLICATED)


def test_services_select_pods_and_named_ports() -> None:
    for service in resources("Service"):
        selector = service["spec"]["selector"]
        matched = [d for d in deployments().values() if selects(selector, d)]
        assert len(matched) == 1, f"service {service['metadata']['name']} selects {len(matched)} deployments"
        ports = container_ports(containers(matched[0])[0])
        for port in service["spec"]["ports"]:
            assert ports[port["targetPort"]] == port["port"]


def config_map() -> dict[str, Any]:
    (found,) = [r for r in resources("ConfigMap") if r["metadata"]["name"] == "linli-config"]
    data: dict[str, Any] = found["data"]
    return data


def test_configured_targets_name_services_and_their_ports() -> None:
    services = {s["metadata"]["name"]: {p["port"] for p in s["spec"]["ports"]} for s in resources("Service")}
    targets = {name: value for name, value in config_map().items() if name.endswith("_TARGET")}
    assert targets, "the ConfigMap must point intake at routing and routing at retrieval"
    for name, target in targets.items():
        host, _, port = target.rpartition(":")
        assert int(port) in services.get(host, set()), f"{name}={target} is no Service of the namespace"


def test_services_called_over_grpc_are_headless_so_callers_balance_calls_over_their_pods() -> None:
    services = {s["metadata"]["name"]: s for s in resources("Service")}
    targets = {name: value for name, value in config_map().items() if name.endswith("_TARGET")}
    for name, target in targets.items():
        host = target.rpartition(":")[0]
        # A ClusterIP would hand each caller one pod for all its calls (gRPC keeps its connection).
        assert services[host]["spec"].get("clusterIP") == "None", f"{name}={target}: {host} is not headless"


def test_kustomization_lists_every_manifest_but_the_secret_template() -> None:
    (kustomization,) = load_yaml_documents(KUSTOMIZATION)
    listed = set(kustomization["resources"])
    # Applying the kustomization must never overwrite the real Secret with placeholders.
    assert listed == {path.name for path in manifest_files()} - {SECRET_TEMPLATE.name}
    assert kustomization["namespace"] == "linli"
    namespaced = [r for r in resources() if r["kind"] != "Namespace"]
    assert {r["metadata"].get("namespace") for r in namespaced} == {"linli"}, "plain `kubectl apply -f` too"


def test_secret_template_holds_placeholders_only_and_is_the_one_referenced() -> None:
    (secret,) = load_yaml_documents(SECRET_TEMPLATE)
    assert "data" not in secret, "placeholders go in stringData; base64 would hide a real value"
    for key, value in secret["stringData"].items():
        assert "CHANGE_ME" in value, f"{key} looks like a real secret"
    referenced = {
        source["secretRef"]["name"]
        for deployment in deployments().values()
        for container in containers(deployment)
        for source in container.get("envFrom", [])
        if "secretRef" in source
    }
    assert referenced == {secret["metadata"]["name"]}


def service_needs(name: str) -> dict[str, str]:
    depends = compose()["services"][name].get("depends_on", {})
    assert isinstance(depends, dict), f"compose/{name}: depends_on needs conditions, not a bare list"
    return {dependency: condition["condition"] for dependency, condition in depends.items()}


def test_compose_waits_for_healthy_dependencies() -> None:
    services = compose()["services"]
    for name in services:
        for dependency, condition in service_needs(name).items():
            assert condition == "service_healthy", f"{name} must wait for {dependency} to be healthy"
            assert "healthcheck" in services[dependency], f"{dependency} has no healthcheck to wait for"
    assert {"postgres", "redis"} <= set(service_needs("intake"))
    assert {"intake", "routing"} <= set(service_needs("worker"))
    assert "retrieval" in service_needs("routing")


@pytest.mark.parametrize("name", sorted(GRPC_PORTS))
def test_compose_grpc_healthcheck_asks_the_role_itself(name: str) -> None:
    test = compose()["services"][name]["healthcheck"]["test"]
    assert test == ["CMD", "linli", "health", f"127.0.0.1:{GRPC_PORTS[name]}"]


def test_compose_keeps_index_models_and_beat_state_on_volumes() -> None:
    services = compose()["services"]
    retrieval_mounts = {volume.split(":")[1] for volume in services["retrieval"]["volumes"]}
    assert {dockerfile_env()["LINLI_RETRIEVAL_INDEX_DIR"], "/models"} <= retrieval_mounts
    beat_mounts = {volume.split(":")[1] for volume in services["beat"]["volumes"]}
    assert str(PurePosixPath(dockerfile_env()["LINLI_INTAKE_BEAT_SCHEDULE_FILE"]).parent) in beat_mounts
    assert "deploy" not in services["beat"], "exactly one beat"


# What each role writes, by the setting that names the path; the root filesystem is read-only in Kubernetes.
WRITTEN_PATHS = {
    "retrieval": ("LINLI_RETRIEVAL_INDEX_DIR", "LINLI_RETRIEVAL_MODEL_CACHE_DIR"),
    "beat": ("LINLI_INTAKE_BEAT_SCHEDULE_FILE",),
}


@pytest.mark.parametrize("name", sorted(WRITTEN_PATHS))
def test_paths_a_role_writes_are_on_writable_volumes(name: str) -> None:
    (container,) = containers(deployments()[name])
    environment = {**dockerfile_env(), **config_map()}
    environment.update({variable["name"]: variable.get("value", "") for variable in container.get("env", [])})
    writable = [
        PurePosixPath(mount["mountPath"])
        for mount in container.get("volumeMounts", [])
        if not mount.get("readOnly", False)
    ]
    for setting in WRITTEN_PATHS[name]:
        path = PurePosixPath(environment[setting])
        assert any(path == mount or mount in path.parents for mount in writable), f"{setting}={path} is read-only"
