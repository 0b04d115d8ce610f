"""Window counters behind the rate limits: in Redis, shared by every intake replica, or in this process.

Both keep one counter per key and fixed window, and estimate a sliding window from the current and the previous
window (the previous weighted by how much of it still overlaps): no burst of twice the limit at a window's edge,
two small keys per client instead of a log of every request.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from typing import Protocol

import redis

KEY_PREFIX = "linli:rate:"


@dataclass(frozen=True)
class WindowCount:
    """What a counter saw for one key: requests in the current window (this one included) and the previous one."""

    current: int
    previous: int


class WindowCounter(Protocol):
    """Counts one more request for `key` in the window `index` (of `window_seconds`), and remembers which items a
    key was admitted for (`remember`, `remembers`); each raises on a storage fault."""

    def hit(self, key: str, index: int, window_seconds: int) -> WindowCount: ...

    def remember(self, key: str, now: float, seconds: int) -> None: ...

    def remembers(self, key: str, now: float) -> bool: ...


def _digest(key: str) -> str:
    # Hashed: neither openids, worker ids, ticket ids nor client addresses end up readable in Redis.
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _storage_key(key: str, index: int) -> str:
    return f"{KEY_PREFIX}{_digest(key)}:{index}"


def _remembered_key(key: str) -> str:
    return f"{KEY_PREFIX}seen:{_digest(key)}"


class RedisWindowCounter:
    """Counters in Redis: INCR the current window, read the previous, in one round trip."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client

    def hit(self, key: str, index: int, window_seconds: int) -> WindowCount:
        """Counts a request; raises redis.RedisError when Redis does not answer."""
        current_key = _storage_key(key, index)
        pipeline = self._client.pipeline(transaction=False)
        pipeline.incr(current_key)
        # Kept two windows: the next window still reads this one as its previous.
        pipeline.expire(current_key, 2 * window_seconds)
        pipeline.get(_storage_key(key, index - 1))
        current, _, previous = pipeline.execute()
        return WindowCount(int(current), int(previous or 0))

    def remember(self, key: str, now: float, seconds: int) -> None:
        """Remembers `key` for `seconds` (Redis expires it); raises redis.RedisError when Redis does not answer."""
        self._client.set(_remembered_key(key), 1, ex=seconds)

    def remembers(self, key: str, now: float) -> bool:
        """Whether `key` is still remembered; raises redis.RedisError when Redis does not answer."""
        return bool(self._client.exists(_remembered_key(key)))


class MemoryWindowCounter:
    """Counters in this process, for a single intake on the embedded (non-Redis) broker."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, int], int] = {}
        self._remembered_until: dict[str, float] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, index: int, window_seconds: int) -> WindowCount:
        """Counts a request; windows older than the previous one are forgotten."""
        with self._lock:
            self._counts[(key, index)] = self._counts.get((key, index), 0) + 1
            if len(self._counts) > 10_000:
                self._counts = {k: v for k, v in self._counts.items() if k[1] >= index - 1}
            return WindowCount(self._counts[(key, index)], self._counts.get((key, index - 1), 0))

    def remember(self, key: str, now: float, seconds: int) -> None:
        """Remembers `key` until `now + seconds`; expired keys are forgotten once many are kept."""
        with self._lock:
            self._remembered_until[key] = now + seconds
            if len(self._remembered_until) > 10_000:
                self._remembered_until = {k: t for k, t in self._remembered_until.items() if t > now}

    def remembers(self, key: str, now: float) -> bool:
        """Whether `key` is still remembered at `now`."""
        with self._lock:
            return self._remembered_until.get(key, 0.0) > now
