"""Micro-batching: concurrent embed calls from gRPC handler threads become one batch for the model."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np

from linli.embedding import Embedder, Vectors
from linli.errors import Unavailable

logger = logging.getLogger(__name__)


@dataclass
class _Request:
    texts: list[str]
    result: Future[Vectors] = field(default_factory=Future)


class MicroBatcher:
    """An `Embedder` that gathers concurrent calls for up to `wait_ms` and embeds them as one batch.

    One model call for 64 texts costs far less than 64 calls for one text each (the model runs its matrix products
    once, and the CPU's cores work on one batch instead of fighting over many). The first call of a batch waits at
    most `wait_ms` for company; a batch closes early once it holds `max_batch` texts. A call is never split: one
    larger than `max_batch` is a batch of its own. Each caller gets exactly its own rows; if the model fails, every
    caller of that batch gets the error and no other. `close()` embeds what is queued, then stops the worker.

    Args:
        inner: The embedder that does the work; only this batcher's worker thread calls it.
        wait_ms: Longest time the first call of a batch waits for more; 0 takes only the calls already waiting.
        max_batch: Most texts in one batch.
    """

    def __init__(self, inner: Embedder, *, wait_ms: float, max_batch: int) -> None:
        if wait_ms < 0:
            raise ValueError(f"wait_ms must be >= 0, got {wait_ms}")
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        self._inner = inner
        self._wait_seconds = wait_ms / 1000.0
        self._max_batch = max_batch
        self._queue: deque[_Request] = deque()
        self._changed = threading.Condition()
        self._closed = False
        self._worker = threading.Thread(target=self._run, name="embed-batcher", daemon=True)
        self._worker.start()

    @property
    def model_name(self) -> str:
        return self._inner.model_name

    @property
    def dimension(self) -> int:
        return self._inner.dimension

    @property
    def pending(self) -> int:
        """Calls queued and not yet taken into a batch."""
        with self._changed:
            return len(self._queue)

    def embed(self, texts: list[str]) -> Vectors:
        """Embeds `texts` together with whatever other calls arrive within the wait; blocks until done."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        request = _Request(list(texts))
        with self._changed:
            if self._closed:
                raise Unavailable("the embedder is shutting down")
            self._queue.append(request)
            self._changed.notify_all()
        return request.result.result()

    def close(self, timeout: float | None = 30.0) -> None:
        """Stops taking calls, embeds those already queued, and waits for the worker to finish."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        self._worker.join(timeout)

    def _run(self) -> None:
        try:
            while batch := self._next_batch():
                self._embed_batch(batch)
        finally:
            # Should the worker ever die, no caller may wait forever on a batch nobody will embed.
            with self._changed:
                self._closed = True
                orphans = list(self._queue)
                self._queue.clear()
            for request in orphans:
                request.result.set_exception(Unavailable("the embedder stopped"))

    def _next_batch(self) -> list[_Request]:
        """Waits for a first call, then gathers more until the wait ends or the batch is full; [] once closed."""
        with self._changed:
            while not self._queue and not self._closed:
                self._changed.wait()
            if not self._queue:
                return []
            deadline = time.monotonic() + self._wait_seconds
            batch = [self._queue.popleft()]
            size = len(batch[0].texts)
            while size < self._max_batch:
                if self._queue:
                    if size + len(self._queue[0].texts) > self._max_batch:
                        break  # the next call starts the next batch rather than being split
                    request = self._queue.popleft()
                    batch.append(request)
                    size += len(request.texts)
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._closed:
                    break
                self._changed.wait(remaining)
            return batch

    def _embed_batch(self, batch: list[_Request]) -> None:
        texts = [text for request in batch for text in request.texts]
        try:
            vectors = self._inner.embed(texts)
            if vectors.shape[0] != len(texts):
                raise RuntimeError(f"the embedder returned {vectors.shape[0]} vectors for {len(texts)} texts")
        except BaseException as error:  # every caller of this batch must wake up, whatever went wrong
            for request in batch:
                request.result.set_exception(error)
            if not isinstance(error, Exception):
                raise
            return
        logger.debug("embedded a batch", extra={"calls": len(batch), "texts": len(texts)})
        start = 0
        for request in batch:
            end = start + len(request.texts)
            # A copy, so that no caller holds a view into another caller's rows.
            request.result.set_result(np.array(vectors[start:end], dtype=np.float32))
            start = end
