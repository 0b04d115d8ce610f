"""What every call to another linli service shares: the caller's deadline passed on, and errors mapped once."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import grpc

from linli.errors import from_rpc_error

# Call metadata, e.g. the `authorization` of a service token (linli/grpc_auth.py makes it).
Metadata = tuple[tuple[str, str], ...]

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


@dataclass(frozen=True)
class _CallDetails(grpc.ClientCallDetails):
    method: str
    timeout: float | None
    metadata: Any
    credentials: grpc.CallCredentials | None
    wait_for_ready: bool | None
    compression: grpc.Compression | None


class LinliClientInterceptor(grpc.UnaryUnaryClientInterceptor):  # type: ignore[type-arg]
    """Passes the caller's remaining deadline on and turns a failed call into a LinliError (linli/errors.py).

    The one place a grpc.RpcError is caught on the client side: callers catch domain errors only.
    """

    def __init__(self, service: str) -> None:
        self._service = service

    def intercept_unary_unary(
        self,
        continuation: Callable[[grpc.ClientCallDetails, Any], Any],
        client_call_details: grpc.ClientCallDetails,
        request: Any,
    ) -> Any:
        details = _CallDetails(
            method=client_call_details.method,
            timeout=call_timeout(client_call_details.timeout),
            metadata=client_call_details.metadata,
            credentials=client_call_details.credentials,
            wait_for_ready=getattr(client_call_details, "wait_for_ready", None),
            compression=getattr(client_call_details, "compression", None),
        )
        call = continuation(details, request)
        try:
            call.result()  # a failed call raises its RpcError here
        except grpc.RpcError as error:
            raise from_rpc_error(error, service=self._service) from error
        return call


def intercepted(channel: grpc.Channel, service: str) -> grpc.Channel:
    """`channel` with linli's client interceptor; `service` names the callee in the errors' messages."""
    return grpc.intercept_channel(channel, LinliClientInterceptor(service))
