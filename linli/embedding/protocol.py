"""What every service means by an embedder: texts in, L2-normalised float32 vectors out."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

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
