"""Reading infra/: the Dockerfile's instructions, the Kubernetes manifests and the compose file."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
K8S = INFRA / "k8s"
DOCKERFILE = INFRA / "Dockerfile"
COMPOSE = INFRA / "docker-compose.yml"
SECRET_TEMPLATE = K8S / "secret.template.yaml"
KUSTOMIZATION = K8S / "kustomization.yaml"

Resource = dict[str, Any]


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction with its continuation lines joined."""

    keyword: str
    arguments: str
    line: int

    def words(self) -> list[str]:
        """The arguments in exec form (a JSON array) or shell form."""
        if self.arguments.startswith("["):
            return [str(word) for word in json.loads(self.arguments)]
        return shlex.split(self.arguments)


def dockerfile_instructions(path: Path = DOCKERFILE) -> list[Instruction]:
    """The instructions of a Dockerfile, comments dropped and `\\` continuations joined."""
    instructions: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue  # Docker allows comments between continuation lines too
        if not pending:
            start = number
        pending.append(line.removesuffix("\\").strip())
        if not line.endswith("\\"):
            keyword, _, arguments = " ".join(pending).partition(" ")
            instructions.append(Instruction(keyword.upper(), arguments.strip(), start))
            pending = []
    return instructions


def dockerfile_env(path: Path = DOCKERFILE) -> dict[str, str]:
    """The ENV variables the final image sets (KEY=VALUE form)."""
    env: dict[str, str] = {}
    for instruction in dockerfile_instructions(path):
        if instruction.keyword == "FROM":
            env.clear()  # each stage starts afresh; the last one is the image
        elif instruction.keyword == "ENV":
            for word in instruction.words():
                key, _, value = word.partition("=")
                env[key] = value
    return env


def manifest_files() -> list[Path]:
    """Every Kubernetes manifest: all YAML in infra/k8s but the kustomization, which is no resource."""
    return sorted(path for path in K8S.glob("*.yaml") if path != KUSTOMIZATION)


def load_yaml_documents(path: Path) -> list[Resource]:
    """The non-empty YAML documents of a file."""
    return [document for document in yaml.safe_load_all(path.read_text(encoding="utf-8")) if document]


@cache
def _resources() -> tuple[tuple[str, Resource], ...]:
    return tuple((path.name, resource) for path in manifest_files() for resource in load_yaml_documents(path))


def resources(kind: str | None = None) -> list[Resource]:
    """Every resource of infra/k8s (of one kind if given), the secret template included."""
    return [resource for _, resource in _resources() if kind is None or resource["kind"] == kind]


def resources_by_file() -> list[tuple[str, Resource]]:
    """(file name, resource) for every resource, for test ids."""
    return list(_resources())


def deployments() -> dict[str, Resource]:
    """The Deployments by name."""
    return {resource["metadata"]["name"]: resource for resource in resources("Deployment")}


def pod_spec(deployment: Resource) -> Resource:
    """A Deployment's pod spec."""
    spec: Resource = deployment["spec"]["template"]["spec"]
    return spec


def containers(deployment: Resource) -> list[Resource]:
    """A Deployment's containers."""
    return list(pod_spec(deployment)["containers"])


def selects(selector: dict[str, str], deployment: Resource) -> bool:
    """Whether a label selector matches a Deployment's pods."""
    labels: dict[str, str] = deployment["spec"]["template"]["metadata"]["labels"]
    return all(labels.get(key) == value for key, value in selector.items())


def compose() -> Resource:
    """docker-compose.yml as Compose reads it (YAML merge keys resolved)."""
    document: Resource = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return document


_INTERPOLATION = re.compile(r"\$\{([A-Z0-9_]+):-([^}]*)\}")


def interpolate(value: str) -> str:
    """Compose's `${NAME:-default}` with every variable unset, as on a fresh machine."""
    return _INTERPOLATION.sub(lambda match: match.group(2), value)


_QUANTITY = re.compile(r"^(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|Ti|k|M|G|T)?$")
_SCALE = {
    None: 1.0,
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "Ki": 2.0**10,
    "Mi": 2.0**20,
    "Gi": 2.0**30,
    "Ti": 2.0**40,
}


def quantity(value: str | int | float) -> float:
    """A Kubernetes resource quantity ("250m", "1536Mi", "2") as a number of cores or bytes."""
    match = _QUANTITY.match(str(value))
    if match is None:
        raise ValueError(f"not a Kubernetes quantity: {value!r}")
    return float(match.group(1)) * _SCALE[match.group(2)]
