"""Asking a linli gRPC server's grpc.health.v1 status, as `linli health`, the dev stack and the benches do."""

from __future__ import annotations

from grpc_health.v1 import health_pb2, health_pb2_grpc

from linli.grpc_tls import open_channel
from linli.settings import GrpcTlsSettings


def check_health(target: str, service: str = "", timeout: float = 3.0, *, tls: GrpcTlsSettings) -> str:
    """The grpc.health.v1 status of `service` at `target` (like `grpcurl ... grpc.health.v1.Health/Check`).

    The channel is TLS when `tls.enabled` (with this process's certificate for mTLS), as the services'.
    """
    with open_channel(target, tls, balanced=False) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=timeout
        )
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))
