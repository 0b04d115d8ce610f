"""The caller's deadline, passed on: servers open it per call, clients cut their own calls' timeouts to it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

# Monotonic time by which the work in hand must be done; None when nobody set one.
_CALLER_DEADLINE: ContextVar[float | None] = ContextVar("linli_caller_deadline", default=None)


@contextmanager
def caller_deadline(seconds: float | None) -> Iterator[None]:
    """Within the block, calls to other services end within `seconds` (None: no limit); nested blocks only shrink it.

    Every linli gRPC server opens one per call with the client's remaining time (linli/grpc_serving.py), so a
    dependency is never asked to work longer than the caller still waits.
    """
    if seconds is None:
        yield
        return
    deadline = time.monotonic() + seconds
    outer = _CALLER_DEADLINE.get()
    token = _CALLER_DEADLINE.set(deadline if outer is None else min(outer, deadline))
    try:
        yield
    finally:
        _CALLER_DEADLINE.reset(token)


def call_timeout(configured: float | None) -> float | None:
    """The timeout of an outgoing call: the configured one, cut to what remains of the caller's deadline."""
    deadline = _CALLER_DEADLINE.get()
    if deadline is None:
        return configured
    # A deadline already past still makes the call, which then fails at once with DEADLINE_EXCEEDED.
    remaining = max(deadline - time.monotonic(), 0.0)
    return remaining if configured is None else min(configured, remaining)
