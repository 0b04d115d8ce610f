"""Optional TLS of gRPC: server credentials for every linli server and the one way services open channels."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import grpc

from linli.settings import GrpcTlsSettings

# grpc's name for "check the server certificate against this name instead of the target's host".
TARGET_NAME_OVERRIDE = "grpc.ssl_target_name_override"
# Every channel between services balances calls, not connections: round-robin over all the addresses its target
# resolves to (a Kubernetes headless Service gives each replica's), skipping those whose gRPC health check is not
# SERVING, so a replica still loading its index or draining for a rolling update gets no new call while the
# others serve. One address behaves as before; a server without the health service counts as healthy.
BALANCED = json.dumps({"loadBalancingConfig": [{"round_robin": {}}], "healthCheckConfig": {"serviceName": ""}})


def _read_pem(path: Path, variable: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise OSError(f"{variable}: cannot read {path}: {error.strerror or error}") from error


def server_credentials(tls: GrpcTlsSettings) -> grpc.ServerCredentials | None:
    """Credentials a server binds its port with; None when TLS is off (plaintext).

    Raises:
        ValueError: TLS is on but no certificate and key are set.
        OSError: a PEM file cannot be read.
    """
    if not tls.enabled:
        return None
    if tls.cert_file is None or tls.key_file is None:
        raise ValueError("LINLI_GRPC_TLS_ENABLED needs LINLI_GRPC_TLS_CERT_FILE and LINLI_GRPC_TLS_KEY_FILE on servers")
    key = _read_pem(tls.key_file, "LINLI_GRPC_TLS_KEY_FILE")
    chain = _read_pem(tls.cert_file, "LINLI_GRPC_TLS_CERT_FILE")
    roots = _read_pem(tls.ca_file, "LINLI_GRPC_TLS_CA_FILE") if tls.ca_file is not None else None
    return grpc.ssl_server_credentials(
        [(key, chain)], root_certificates=roots, require_client_auth=tls.require_client_cert
    )


def channel_credentials(tls: GrpcTlsSettings) -> grpc.ChannelCredentials | None:
    """Credentials of a client channel; None when TLS is off. The process's own certificate goes along for mTLS."""
    if not tls.enabled:
        return None
    roots = _read_pem(tls.ca_file, "LINLI_GRPC_TLS_CA_FILE") if tls.ca_file is not None else None
    key = _read_pem(tls.key_file, "LINLI_GRPC_TLS_KEY_FILE") if tls.key_file is not None else None
    chain = _read_pem(tls.cert_file, "LINLI_GRPC_TLS_CERT_FILE") if tls.cert_file is not None else None
    return grpc.ssl_channel_credentials(root_certificates=roots, private_key=key, certificate_chain=chain)


def open_channel(
    target: str, tls: GrpcTlsSettings, *, options: Sequence[tuple[str, Any]] = (), balanced: bool = True
) -> grpc.Channel:
    """A channel to another linli service: TLS when `LINLI_GRPC_TLS_ENABLED`, plaintext otherwise.

    Args:
        target: host:port of the server, or a name that resolves to several (a headless Service: every pod).
        tls: the TLS settings the process read at its start.
        options: extra channel arguments.
        balanced: spread calls over every address of `target` whose health check says SERVING (`BALANCED`); off
            for a health check itself, which must reach a server that is not serving to hear it say so.
    """
    credentials = channel_credentials(tls)
    options = [*options, ("grpc.service_config", BALANCED)] if balanced else list(options)
    if credentials is None:
        return grpc.insecure_channel(target, options=options)
    extra = [(TARGET_NAME_OVERRIDE, tls.server_name)] if tls.server_name else []
    return grpc.secure_channel(target, credentials, options=[*options, *extra])
