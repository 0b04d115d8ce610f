"""What every call to another linli service shares: the caller's deadline passed on, and errors mapped once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc

from linli.deadlines import call_timeout
from linli.errors import from_rpc_error

# Call metadata, e.g. the `authorization` of a service token (linli/grpc_auth.py makes it).
Metadata = tuple[tuple[str, str], ...]


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
