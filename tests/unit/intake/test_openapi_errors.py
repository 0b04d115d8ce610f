"""The OpenAPI document declares the error body the API really sends, on every status an operation answers with."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from fastapi.testclient import TestClient

from services.intake.database import Database
from services.intake.http_app import create_http_app
from tests.tokens import as_resident
from tests.unit.intake.fakes import Intake, face_services, http_security

ERROR_REF = "#/components/schemas/ErrorBody"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    database = Database(f"sqlite:///{tmp_path / 'tickets.sqlite'}")
    database.upgrade_schema()
    ready = threading.Event()
    ready.set()
    flows = Intake(database).flows
    app = create_http_app(flows, http_security(), database, ready, faces=face_services(flows, database))
    yield TestClient(app, headers=as_resident("r-1"))
    database.dispose()


def error_schema(document: dict[str, Any], path: str, method: str, status: int) -> dict[str, Any]:
    """The schema `document` declares for `status` of one operation, resolved against its components."""
    response = document["paths"][path][method]["responses"][str(status)]
    schema = response["content"]["application/json"]["schema"]
    assert schema == {"$ref": ERROR_REF}
    return {"$ref": ERROR_REF, "components": document["components"]}


def test_no_operation_declares_fastapis_detail_body(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            declared = operation["responses"]
            assert {"422", "429"} <= set(declared), (method, path)
            assert declared["422"]["content"]["application/json"]["schema"] == {"$ref": ERROR_REF}
            if operation.get("security"):
                assert {"401", "403", "404"} <= set(declared), (method, path)


@pytest.mark.parametrize(
    ("method", "path", "send", "status"),
    [
        ("post", "/v1/tickets", {"json": {"text": "", "community": "火星"}}, 422),
        ("post", "/v1/tickets", {"content": b"\xff\xfe{", "headers": {"Content-Type": "application/json"}}, 400),
        ("get", "/v1/tickets/{ticket_id}", {"headers": {"Authorization": "Bearer forged"}}, 401),
        ("get", "/v1/tickets/{ticket_id}", {}, 404),
    ],
)
def test_real_errors_match_the_declared_body(
    client: TestClient, method: str, path: str, send: dict[str, Any], status: int
) -> None:
    document = client.get("/openapi.json").json()
    reply = client.request(method.upper(), path.replace("{ticket_id}", "missing"), **send)
    assert reply.status_code == status, reply.text
    jsonschema.validate(reply.json(), error_schema(document, path, method, status))
    assert set(reply.json()["error"]) == {"code", "message", "fields"}
