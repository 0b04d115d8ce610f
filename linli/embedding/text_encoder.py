"""The one wrapper around an embedding function: a memo, batches of a bounded size, and a timing hook.

Routing embeds through retrieval (a memo per request, batches while training at start), evaluations embed with a
local model (a memo, so classifier vectors double as precedent queries) and retrieval times its model's batches:
each is a TextEncoder with the options it needs.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from linli.embedding.protocol import Vectors

# Called after each call of the wrapped function with the batch's size and its seconds.
BatchObserver = Callable[[int, float], None]


class TextEncoder:
    """Texts to float32 vectors of one model: both an Encoder (called) and an Embedder (`embed`).

    Args:
        embed: the wrapped function, texts to an array of shape (len(texts), dimension).
        memo: remember each text's vector for this object's life (`fresh()` gives an empty memo).
        batch: largest number of texts handed to `embed` at once; None hands every text in one call.
        observe: told each call's size and seconds.
    """

    def __init__(
        self,
        embed: Callable[[list[str]], Vectors],
        *,
        model_name: str,
        dimension: int,
        memo: bool = False,
        batch: int | None = None,
        observe: BatchObserver | None = None,
    ) -> None:
        self._embed = embed
        self._model_name = model_name
        self._dimension = dimension
        self._remembers = memo
        self._batch = batch
        self._observe = observe
        self._memo: dict[str, Vectors] = {}

    @property
    def model_name(self) -> str:
        """Name of the embedding model."""
        return self._model_name

    @property
    def dimension(self) -> int:
        """Length of every vector."""
        return self._dimension

    def fresh(self) -> TextEncoder:
        """The same encoder with an empty memo (e.g. for the next request)."""
        return TextEncoder(
            self._embed,
            model_name=self._model_name,
            dimension=self._dimension,
            memo=self._remembers,
            batch=self._batch,
            observe=self._observe,
        )

    def remember(self, text: str, vector: Vectors) -> None:
        """Takes `vector` as `text`'s, so asking for `text` costs no call (a vector the caller already had).

        Raises ValueError when this encoder keeps no memo or the vector is not one of this model's length.
        """
        if not self._remembers:
            raise ValueError("this encoder keeps no memo: a given vector would be ignored")
        row = np.asarray(vector, dtype=np.float32).reshape(-1)
        if row.shape != (self._dimension,):
            raise ValueError(f"a {self._model_name} vector has {self._dimension} components, got {row.shape[0]}")
        self._memo[text] = row

    def recall(self, text: str) -> Vectors | None:
        """The vector this encoder holds for exactly `text` (embedded or remembered), or None: never a call."""
        return self._memo.get(text)

    def embed(self, texts: list[str]) -> Vectors:
        """An array of shape (len(texts), dimension)."""
        return self(texts)

    def __call__(self, texts: list[str]) -> Vectors:
        if not self._remembers:
            return self._embed_batches(texts)
        missing = [text for text in dict.fromkeys(texts) if text not in self._memo]
        if missing:
            for text, vector in zip(missing, self._embed_batches(missing), strict=True):
                self._memo[text] = vector
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        return np.stack([self._memo[text] for text in texts]).astype(np.float32, copy=False)

    def _embed_batches(self, texts: list[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        size = self._batch or len(texts)
        chunks = [self._timed(texts[start : start + size]) for start in range(0, len(texts), size)]
        return chunks[0] if len(chunks) == 1 else np.concatenate(chunks)

    def _timed(self, texts: list[str]) -> Vectors:
        if self._observe is None:
            return self._embed(texts)
        started = time.perf_counter()
        vectors = self._embed(texts)
        self._observe(len(texts), time.perf_counter() - started)
        return vectors
