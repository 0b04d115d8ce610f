"""Optional gRPC TLS: a TLS client is served, a plaintext one is not, and with mTLS a client needs a certificate.

The test makes its own CA, a server certificate for 127.0.0.1 and localhost, and a client certificate, with
`cryptography`, into tmp_path.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from grpc_health.v1 import health_pb2, health_pb2_grpc

from linli.catalog import load_catalog
from linli.grpc_health import check_health
from linli.grpc_serving import ServerHandle, build_server
from linli.grpc_tls import open_channel
from linli.settings import GrpcTlsSettings, ProcessSettings
from linli.v1 import routing_pb2, routing_pb2_grpc
from services.retrieval.server import RetrievalDeps
from services.retrieval.server import create_server as create_retrieval
from services.routing.learning.data import LabelledText
from services.routing.learning.features import EmbedderEncoder, FeatureConfig
from services.routing.learning.model_dir import save_model
from services.routing.learning.training import TrainingConfig, train
from services.routing.server import create_server as create_routing
from services.routing.signals import RoutingTrainingSignals
from tests.local_servers import retrieval_settings, routing_settings
from tests.unit.fakes import HashEmbedder

pytestmark = pytest.mark.integration

CALL_SECONDS = 5.0
CORPUS = Path(__file__).resolve().parents[2] / "services" / "retrieval" / "corpus" / "starter_cases.jsonl"
HASH_EMBEDDER = HashEmbedder(dimension=32, name="hash-embedder")
TLS_VARIABLES = ("ENABLED", "CERT_FILE", "KEY_FILE", "CA_FILE", "REQUIRE_CLIENT_CERT", "SERVER_NAME")


@dataclass(frozen=True)
class Pki:
    """PEM files of a test CA and of a server and a client certificate it signed."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path  # a CA that signed nothing here: trusting only it must fail


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> Path:
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return path


def _write_cert(cert: x509.Certificate, path: Path) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def _make_ca(common_name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _issue(
    ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate, common_name: str, *usages: x509.ObjectIdentifier
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage(list(usages)), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A CA, a server certificate for 127.0.0.1/localhost and a client certificate, as PEM files."""
    folder = tmp_path_factory.mktemp("pki")
    ca_key, ca_cert = _make_ca("linli test CA")
    # A service's certificate serves and, with mTLS, identifies it as a client of the others: both usages.
    server_key, server_cert = _issue(
        ca_key, ca_cert, "retrieval", ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH
    )
    client_key, client_cert = _issue(ca_key, ca_cert, "intake-worker", ExtendedKeyUsageOID.CLIENT_AUTH)
    _, other_cert = _make_ca("someone else's CA")
    return Pki(
        ca=_write_cert(ca_cert, folder / "ca.pem"),
        server_cert=_write_cert(server_cert, folder / "server.pem"),
        server_key=_write_key(server_key, folder / "server-key.pem"),
        client_cert=_write_cert(client_cert, folder / "client.pem"),
        client_key=_write_key(client_key, folder / "client-key.pem"),
        other_ca=_write_cert(other_cert, folder / "other-ca.pem"),
    )


def _serve(tls: GrpcTlsSettings) -> ServerHandle:
    handle = build_server(host="127.0.0.1", port=0, workers=2, service_names=[], register=lambda _server: None, tls=tls)
    handle.set_serving(True)
    return handle


@pytest.fixture
def tls_server(pki: Pki) -> Iterator[ServerHandle]:
    """A server over TLS that does not ask clients for certificates."""
    handle = _serve(GrpcTlsSettings(enabled=True, cert_file=pki.server_cert, key_file=pki.server_key))
    yield handle
    handle.stop(0)


@pytest.fixture
def mtls_server(pki: Pki) -> Iterator[ServerHandle]:
    """A server over TLS that refuses clients without a certificate signed by the test CA."""
    tls = GrpcTlsSettings(
        enabled=True, cert_file=pki.server_cert, key_file=pki.server_key, ca_file=pki.ca, require_client_cert=True
    )
    handle = _serve(tls)
    yield handle
    handle.stop(0)


def health_status(target: str, tls: GrpcTlsSettings) -> str:
    """The server's health over a channel opened the way services open theirs; raises grpc.RpcError on failure."""
    with open_channel(target, tls) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=CALL_SECONDS)
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))


def refused(target: str, tls: GrpcTlsSettings) -> grpc.StatusCode:
    """The status code of a health check that must fail."""
    with pytest.raises(grpc.RpcError) as raised:
        health_status(target, tls)
    error = raised.value
    assert isinstance(error, grpc.Call)
    return error.code()


def test_a_tls_client_is_served_and_a_plaintext_one_is_not(tls_server: ServerHandle, pki: Pki) -> None:
    target = f"127.0.0.1:{tls_server.port}"
    assert health_status(target, GrpcTlsSettings(enabled=True, ca_file=pki.ca)) == "SERVING"
    assert health_status(f"localhost:{tls_server.port}", GrpcTlsSettings(enabled=True, ca_file=pki.ca)) == "SERVING"
    assert refused(target, GrpcTlsSettings(enabled=False)) == grpc.StatusCode.UNAVAILABLE


def test_a_client_that_trusts_another_ca_refuses_the_server(tls_server: ServerHandle, pki: Pki) -> None:
    target = f"127.0.0.1:{tls_server.port}"
    assert refused(target, GrpcTlsSettings(enabled=True, ca_file=pki.other_ca)) == grpc.StatusCode.UNAVAILABLE


def test_the_expected_server_name_can_be_set_apart_from_the_target(tls_server: ServerHandle, pki: Pki) -> None:
    target = f"127.0.0.1:{tls_server.port}"
    named = GrpcTlsSettings(enabled=True, ca_file=pki.ca, server_name="localhost")
    assert health_status(target, named) == "SERVING"
    wrong = GrpcTlsSettings(enabled=True, ca_file=pki.ca, server_name="routing.example")
    assert refused(target, wrong) == grpc.StatusCode.UNAVAILABLE


def test_mtls_refuses_a_client_without_a_certificate(mtls_server: ServerHandle, pki: Pki) -> None:
    target = f"127.0.0.1:{mtls_server.port}"
    with_cert = GrpcTlsSettings(enabled=True, ca_file=pki.ca, cert_file=pki.client_cert, key_file=pki.client_key)
    assert health_status(target, with_cert) == "SERVING"
    assert refused(target, GrpcTlsSettings(enabled=True, ca_file=pki.ca)) == grpc.StatusCode.UNAVAILABLE
    assert refused(target, GrpcTlsSettings(enabled=False)) == grpc.StatusCode.UNAVAILABLE


def _set_tls_environment(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for name in TLS_VARIABLES:
        monkeypatch.delenv(f"LINLI_GRPC_TLS_{name}", raising=False)
    for name, value in values.items():
        monkeypatch.setenv(f"LINLI_GRPC_TLS_{name.upper()}", value)


def test_a_service_and_linli_health_take_mtls_from_the_environment(
    pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One certificate per process, as deployed: it serves and, towards other services, identifies the caller.
    _set_tls_environment(
        monkeypatch,
        enabled="true",
        cert_file=str(pki.server_cert),
        key_file=str(pki.server_key),
        ca_file=str(pki.ca),
        require_client_cert="true",
    )
    monkeypatch.setenv("LINLI_AUTH_SECRETS", "tls-test-" + "k" * 32)  # retrieval checks admin tokens with it
    settings = retrieval_settings(tmp_path, None)
    server = create_retrieval(
        settings, RetrievalDeps(embedder=HASH_EMBEDDER), process=ProcessSettings.from_environment()
    )
    try:
        assert server.handle.wait_ready(30), server.handle.load_error
        target = f"127.0.0.1:{server.handle.port}"
        assert check_health(target, "linli.v1.RetrievalService", tls=GrpcTlsSettings()) == "SERVING"
        _set_tls_environment(monkeypatch)  # an operator's shell without the TLS settings
        with pytest.raises(grpc.RpcError):
            check_health(target, tls=GrpcTlsSettings())
    finally:
        server.stop(0)


def _train_routing_model(model_dir: Path) -> None:
    """A small routing model over hash vectors: this test is about the channel, not the decisions."""
    rows = CORPUS.read_text(encoding="utf-8").splitlines()[:120]
    items = [LabelledText(json.loads(row)["complaint"], json.loads(row)["party"]) for row in rows]
    model = train(
        items,
        config=TrainingConfig(features=FeatureConfig(word_ngrams=None), folds=3),
        encoder=EmbedderEncoder(HASH_EMBEDDER),
        signals=RoutingTrainingSignals(load_catalog()),
    )
    save_model(model, model_dir)


def test_routing_reaches_retrieval_over_mtls(pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _set_tls_environment(
        monkeypatch,
        enabled="true",
        cert_file=str(pki.server_cert),
        key_file=str(pki.server_key),
        ca_file=str(pki.ca),
        require_client_cert="true",
    )
    monkeypatch.setenv("LINLI_AUTH_SECRETS", "tls-test-" + "k" * 32)
    retrieval = create_retrieval(
        retrieval_settings(tmp_path / "index", CORPUS),
        RetrievalDeps(embedder=HASH_EMBEDDER),
        process=ProcessSettings.from_environment(),
    )
    try:
        assert retrieval.handle.wait_ready(60), retrieval.handle.load_error
        _train_routing_model(tmp_path / "model")
        settings = routing_settings(retrieval.handle.port, tmp_path / "model")
        # Its channel to retrieval is opened with the TLS settings main() would read from the environment.
        routing = create_routing(settings, process=ProcessSettings.from_environment())
        try:
            # SERVING only after routing saw retrieval SERVING and read its index stats: both over mTLS.
            assert routing.wait_ready(60), routing.load_error
            with open_channel(f"127.0.0.1:{routing.port}", GrpcTlsSettings()) as channel:
                complaint = routing_pb2.Complaint(text="楼道灯坏了好几天了", community="恒康居民区")
                reply = routing_pb2_grpc.RoutingServiceStub(channel).Route(
                    routing_pb2.RouteRequest(complaint=complaint), timeout=CALL_SECONDS
                )
            assert reply.decision.alternatives
        finally:
            routing.stop(0)
    finally:
        retrieval.stop(0)


def test_inconsistent_settings_stop_the_process_at_start(pki: Pki) -> None:
    with pytest.raises(ValueError, match="go together"):
        GrpcTlsSettings(enabled=True, cert_file=pki.server_cert)
    with pytest.raises(ValueError, match="REQUIRE_CLIENT_CERT"):
        GrpcTlsSettings(enabled=True, cert_file=pki.server_cert, key_file=pki.server_key, require_client_cert=True)
    with pytest.raises(ValueError, match="CERT_FILE and LINLI_GRPC_TLS_KEY_FILE on servers"):
        _serve(GrpcTlsSettings(enabled=True, ca_file=pki.ca))
    with pytest.raises(OSError, match="LINLI_GRPC_TLS_KEY_FILE"):
        _serve(GrpcTlsSettings(enabled=True, cert_file=pki.server_cert, key_file=pki.server_key.with_name("none")))
