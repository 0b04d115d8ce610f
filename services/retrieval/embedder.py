"""Sentence embedders behind one small interface, so a deployment can mount another model."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

Vectors = npt.NDArray[np.float32]


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors, so inner product is cosine similarity."""

    @property
    def model_name(self) -> str:
        """Name recorded with every vector, to detect a changed model."""
        ...

    @property
    def dimension(self) -> int:
        """Length of every vector."""
        ...

    def embed(self, texts: list[str]) -> Vectors:
        """Embeds `texts`; returns an array of shape (len(texts), dimension)."""
        ...


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded from a local folder, run on the CPU with torch.

    Texts longer than `max_seq_length` tokens are truncated: a complaint's first few hundred characters carry its
    subject, and mean pooling over a longer window dilutes it.
    """

    def __init__(self, model_path: Path, *, max_seq_length: int = 256, batch_size: int = 32) -> None:
        # Weights come from the local folder only; a hub download would fail offline anyway, and fail slowly.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import (
            SentenceTransformer,  # heavy import, paid only by processes that embed
        )

        if not (model_path / "config.json").is_file():
            raise FileNotFoundError(f"no sentence-transformers model in {model_path}")
        self._model = SentenceTransformer(str(model_path), device="cpu")
        self._model.max_seq_length = min(max_seq_length, self._model.max_seq_length or max_seq_length)
        self._batch_size = batch_size
        self._dimension = int(self._model.get_embedding_dimension() or 0)
        self._name = model_path.name
        # torch already uses every core for one batch; concurrent encodes would only thrash.
        self._lock = threading.Lock()
        logger.info("loaded embedding model", extra={"model": self._name, "dimension": self._dimension})

    @property
    def model_name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension

    def embed(self, texts: list[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(
                texts,
                batch_size=self._batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)
