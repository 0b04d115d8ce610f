"""The model directory: a JSON manifest plus the fitted parts, written atomically and checked when loaded.

A model directory is a trusted artifact of `linli train routing` (its parts are pickles): the checksums in the
manifest catch a truncated or swapped file, not a malicious one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import sklearn

from linli.errors import FailedPrecondition
from services.routing.learning.classifier import EmbeddingSpec, RoutingClassifier, StackedClassifier
from services.routing.learning.features import Encoder, FeatureConfig
from services.routing.learning.prior_shift import PriorShift
from services.routing.learning.training import DataSummary, TrainedModel

logger = logging.getLogger(__name__)

FORMAT = "linli-routing-model"
FORMAT_VERSION = 1
MANIFEST_FILE = "manifest.json"
CLASSIFIER_FILE = "classifier.joblib"


class ModelDirectoryError(FailedPrecondition):
    """A model directory is missing, corrupt, from another format, or does not fit the encoder or labels given."""


@dataclass(frozen=True)
class Manifest:
    """What a model directory holds, readable without loading the model."""

    format_version: int
    created_at: str
    labels: tuple[str, ...]
    embedding: EmbeddingSpec | None
    features: FeatureConfig
    threshold: float
    target_precision: float
    temperature: float
    metrics: dict[str, Any]
    data: DataSummary
    train_seconds: float
    sklearn_version: str
    files: dict[str, str]
    prior_shift: PriorShift | None = None

    def to_json(self) -> dict[str, Any]:
        """The manifest.json object."""
        return {
            "format": FORMAT,
            "format_version": self.format_version,
            "created_at": self.created_at,
            "labels": list(self.labels),
            "embedding": None
            if self.embedding is None
            else {"model": self.embedding.model_name, "dimension": self.embedding.dimension},
            "features": self.features.to_json(),
            "threshold": self.threshold,
            "target_precision": self.target_precision,
            "temperature": self.temperature,
            "cross_validated": self.metrics,
            "data": {
                "sha256": self.data.sha256,
                "count": self.data.count,
                "label_counts": self.data.label_counts,
                "corrections": self.data.corrections,
            },
            "train_seconds": self.train_seconds,
            "sklearn_version": self.sklearn_version,
            "files": self.files,
            "prior_shift": None if self.prior_shift is None else self.prior_shift.to_json(),
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Manifest:
        """Parses manifest.json; raises KeyError, TypeError or ValueError when a field is missing or malformed."""
        embedding = value["embedding"]
        data = value["data"]
        return cls(
            format_version=int(value["format_version"]),
            created_at=str(value["created_at"]),
            labels=tuple(str(label) for label in value["labels"]),
            embedding=None
            if embedding is None
            else EmbeddingSpec(str(embedding["model"]), int(embedding["dimension"])),
            features=FeatureConfig.from_json(value["features"]),
            threshold=float(value["threshold"]),
            target_precision=float(value["target_precision"]),
            temperature=float(value["temperature"]),
            metrics=dict(value["cross_validated"]),
            data=DataSummary(
                str(data["sha256"]), int(data["count"]), dict(data["label_counts"]), int(data["corrections"])
            ),
            train_seconds=float(value["train_seconds"]),
            sklearn_version=str(value["sklearn_version"]),
            files={str(name): str(digest) for name, digest in value["files"].items()},
            # Older manifests have no prior shift: the model serves under its training priors.
            prior_shift=None if value.get("prior_shift") is None else PriorShift.from_json(value["prior_shift"]),
        )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_model(model: TrainedModel, directory: Path) -> Manifest:
    """Writes `model` to `directory`, replacing what is there, so that a reader sees the old or the new model whole.

    The parts are written to a temporary sibling first and renamed into place; a crash leaves at most a
    temporary folder behind, never a half-written model.
    """
    directory = directory.absolute()
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.tmp-", dir=directory.parent))
    try:
        joblib.dump(model.classifier, staging / CLASSIFIER_FILE)
        classifier = model.classifier
        manifest = Manifest(
            format_version=FORMAT_VERSION,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            labels=classifier.labels,
            embedding=classifier.embedding,
            features=classifier.features,
            threshold=model.threshold,
            target_precision=model.target_precision,
            temperature=classifier.temperature,
            metrics=model.metrics,
            data=model.data,
            train_seconds=round(model.train_seconds, 3),
            sklearn_version=sklearn.__version__,
            files={CLASSIFIER_FILE: _sha256(staging / CLASSIFIER_FILE)},
            prior_shift=model.prior_shift,
        )
        (staging / MANIFEST_FILE).write_text(
            json.dumps(manifest.to_json(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
        staging.chmod(0o755)  # mkdtemp makes it private; a model is read by the routing server's user too
        _swap_into_place(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def _swap_into_place(staging: Path, directory: Path) -> None:
    # A non-empty directory cannot be replaced by one rename: move the old one aside first, then delete it.
    retired = directory.with_name(f".{directory.name}.old-{uuid.uuid4().hex[:8]}")
    if directory.exists():
        os.rename(directory, retired)
    os.rename(staging, directory)
    shutil.rmtree(retired, ignore_errors=True)


def read_manifest(directory: Path) -> Manifest:
    """The manifest of `directory`; raises ModelDirectoryError when it is missing, malformed or of another format."""
    path = directory / MANIFEST_FILE
    if not directory.is_dir():
        raise ModelDirectoryError(f"no model directory at {directory} (train one with `linli train routing`)")
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise ModelDirectoryError(f"{directory} is not a model directory: {MANIFEST_FILE} is missing") from error
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelDirectoryError(f"{path} is unreadable or corrupt: {error}") from error
    if not isinstance(value, dict) or value.get("format") != FORMAT:
        raise ModelDirectoryError(f"{path} is not a {FORMAT} manifest")
    if value.get("format_version") != FORMAT_VERSION:
        raise ModelDirectoryError(
            f"{path} has format version {value.get('format_version')}; this linli reads version {FORMAT_VERSION}: "
            "retrain the model"
        )
    try:
        return Manifest.from_json(value)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ModelDirectoryError(f"{path} is corrupt: bad or missing field {error}") from error


def same_embedding_model(expected: str, actual: str) -> bool:
    """Whether two embedding model names denote the same weights.

    A suffix after "+" names a backend of the same weights (retrieval's int8 ONNX path is "m3e-small+onnx-int8-r1"):
    its vectors agree with fp32's to a cosine of about 0.997, far below what moves a linear classifier's decision.
    """
    return expected.split("+", 1)[0] == actual.split("+", 1)[0]


def check_encoder(manifest: Manifest, encoder: Encoder | None, directory: Path) -> None:
    """Raises ModelDirectoryError unless `encoder` produces the vectors the model was trained on."""
    expected = manifest.embedding
    if expected is None:
        return
    if encoder is None:
        raise ModelDirectoryError(
            f"the model in {directory} needs {expected.model_name} embeddings ({expected.dimension}-d); "
            "no encoder was given"
        )
    if not same_embedding_model(expected.model_name, encoder.model_name) or encoder.dimension != expected.dimension:
        raise ModelDirectoryError(
            f"the model in {directory} was trained on {expected.model_name} embeddings ({expected.dimension}-d), "
            f"but the encoder is {encoder.model_name} ({encoder.dimension}-d): retrain it with this encoder"
        )


def load_model(
    directory: Path, *, encoder: Encoder | None = None, required_labels: Collection[str] | None = None
) -> RoutingClassifier:
    """Loads a model directory as a ready `Predictor`.

    Args:
        directory: a directory written by `save_model`.
        encoder: the sentence encoder; required when the model uses embeddings, and must be the same model.
        required_labels: when given, a model that can predict a label outside it is refused (e.g. a router that
            only knows the default parties).

    Raises:
        ModelDirectoryError: missing or corrupt files, another format version, another embedding model or
            dimension, or labels outside `required_labels`.
    """
    manifest = read_manifest(directory)
    check_encoder(manifest, encoder, directory)
    if required_labels is not None:
        unknown = sorted(set(manifest.labels) - set(required_labels))
        if unknown:
            raise ModelDirectoryError(
                f"the model in {directory} predicts unknown label(s) {', '.join(unknown)}; "
                f"allowed: {', '.join(sorted(required_labels))}"
            )
    for name, digest in manifest.files.items():
        path = directory / name
        if not path.is_file():
            raise ModelDirectoryError(f"{path} is missing")
        if _sha256(path) != digest:
            raise ModelDirectoryError(f"{path} is corrupt: its checksum does not match the manifest")
    if manifest.sklearn_version != sklearn.__version__:
        logger.warning(
            "model trained with another scikit-learn",
            extra={"trained_with": manifest.sklearn_version, "running": sklearn.__version__},
        )
    try:
        classifier = joblib.load(directory / CLASSIFIER_FILE)
    except Exception as error:  # unpickling raises anything; all of it means the same to the operator
        raise ModelDirectoryError(f"{directory / CLASSIFIER_FILE} cannot be loaded: {error}") from error
    if not isinstance(classifier, StackedClassifier) or classifier.labels != manifest.labels:
        raise ModelDirectoryError(f"{directory / CLASSIFIER_FILE} does not match its manifest")
    return RoutingClassifier(
        classifier, threshold=manifest.threshold, encoder=encoder, prior_shift=manifest.prior_shift
    )
