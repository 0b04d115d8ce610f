"""The routing model in service: loaded from its directory, swapped whole on reload, kept when a new one is bad."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

from services.routing.learning.classifier import RoutingClassifier
from services.routing.learning.features import Encoder
from services.routing.learning.model_dir import Manifest, load_model, read_manifest

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServedModel:
    """A loaded model with what describes it."""

    classifier: RoutingClassifier
    manifest: Manifest
    version: str


def model_version(manifest: Manifest) -> str:
    """Creation time plus the training data's checksum: two trainings on other data never share a version."""
    return f"{manifest.created_at}+{manifest.data.sha256[:8]}"


class ModelHolder:
    """Holds the model in service; readers take `current` once per request and keep it for that request.

    A reload loads and checks the new model completely before the swap, so a request sees either model whole,
    and a directory with another embedding model, a corrupt file or foreign labels leaves the running model in
    service (the error goes to the caller and the log).
    """

    def __init__(
        self, directory: Path, *, encoder: Encoder | None, required_labels: Collection[str] | None = None
    ) -> None:
        self._directory = directory
        self._encoder = encoder
        self._required_labels = required_labels
        self._current: ServedModel | None = None
        self._lock = threading.Lock()

    @property
    def directory(self) -> Path:
        """Where models are loaded from."""
        return self._directory

    @property
    def current(self) -> ServedModel:
        """The model in service; raises RuntimeError before the first load."""
        served = self._current
        if served is None:
            raise RuntimeError("no routing model is loaded yet")
        return served

    @property
    def loaded(self) -> bool:
        """Whether a model is in service."""
        return self._current is not None

    def reload(self) -> bool:
        """Loads the directory's model if it differs from the one in service; True when it switched."""
        with self._lock:
            manifest = read_manifest(self._directory)
            version = model_version(manifest)
            if self._current is not None and self._current.version == version:
                return False
            classifier = load_model(self._directory, encoder=self._encoder, required_labels=self._required_labels)
            self._current = ServedModel(classifier, read_manifest(self._directory), version)
        logger.info("routing model in service", extra={"version": version, "labels": len(manifest.labels)})
        return True

    def watch(self, interval_seconds: float, stop: threading.Event, on_error: Callable[[Exception], None]) -> None:
        """Reloads every `interval_seconds` until `stop` is set (run it in a thread)."""
        while not stop.wait(interval_seconds):
            try:
                self.reload()
            except Exception as error:  # a bad model must not kill the watcher; the running one stays
                on_error(error)
