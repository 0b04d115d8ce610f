"""The standard grpc.health.v1 check, asked of any linli server through the shared client interceptor."""

from __future__ import annotations

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from linli.clients.calls import intercepted


def serving_status(channel: grpc.Channel, *, service: str = "", timeout_seconds: float, callee: str) -> str:
    """`SERVING`, `NOT_SERVING`, ... of `service` ("" for the whole server); a failed call raises a LinliError.

    `callee` names the server in the error's message (e.g. "retrieval").
    """
    stub = health_pb2_grpc.HealthStub(intercepted(channel, callee))
    reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout_seconds)
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))
