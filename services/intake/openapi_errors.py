"""What the OpenAPI document says about errors: the one body every error has, `{error: {code, message, fields}}`,
declared on each operation for the statuses it can answer with — in place of FastAPI's `{detail}` 422, which
the app never sends."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from services.intake.open311.http import PREFIX as OPEN311_PREFIX

ERROR_BODY_REF = "#/components/schemas/ErrorBody"
# What each status means here, for the document's readers.
MEANINGS = {
    400: "The body is not JSON, or not the object the operation takes",
    401: "No bearer token, or one that is expired, revoked or forged (see WWW-Authenticate)",
    403: "The caller's role may not do this",
    404: "No such resource, or one the caller may not see",
    409: "The resource is not in a state that allows this (e.g. a ticket already resolved)",
    413: "The export would hold more rows than allowed; narrow the filters",
    422: "A field is invalid; `fields` names each one",
    429: "Too many requests; come back after Retry-After seconds",
    503: "Intake is starting, or its database does not answer",
}
# Where a status means more on one path than MEANINGS says.
PATH_MEANINGS = {
    ("/v1/tickets/{ticket_id}/contact", 429): "Too many requests from this address, or this worker has read too many "
    "callback numbers in the last hour (LINLI_RATE_CONTACT_REVEALS_PER_HOUR; the same ticket again counts once); "
    "come back after Retry-After seconds",
}
_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")
# Where a browser lands: its errors are also a page saying why, unless the caller asks for JSON.
BROWSER_LANDINGS = ("/v1/auth/wecom/callback",)


class FieldProblemOut(BaseModel):
    """One field at fault."""

    field: str
    description: str


class ErrorOut(BaseModel):
    """A machine-readable code (`invalid_argument`, `not_found`, ...), a message, and the fields at fault."""

    code: str
    message: str
    fields: list[FieldProblemOut]


class ErrorBody(BaseModel):
    """The body of every error the API answers with."""

    error: ErrorOut


def error_statuses(path: str, method: str, operation: dict[str, Any]) -> list[int]:
    """The error statuses an operation answers with in the ErrorBody shape.

    Every operation: 422 (a bad field or parameter, text with lone surrogates) and 429 (the address rate limit).
    A body: 400 when it is not JSON; a page token: 400 when no page gave it. A login: 401 for a refused code, 404
    for a login not offered here (WeCom's: 403 for a bad state or an account that is no active worker's). A bearer
    token: 401 and 403; with it, 404 (hidden or missing) and, for a change, 409. A path parameter: 404. Open311
    answers 400, 403 and 404 in the GeoReport shape instead.
    """
    statuses = {422, 429}
    secured = bool(operation.get("security"))
    if "requestBody" in operation:
        statuses.add(400)
    if any(parameter.get("name") == "page_token" for parameter in operation.get("parameters", [])):
        statuses.add(400)  # a page token no page of this listing gave out (the inbox's: of another sort)
    if secured:
        statuses |= {401, 403, 404}
        if method != "get":
            statuses.add(409)
    if "{" in path:
        statuses.add(404)
    if path.endswith(("/export.csv", "/export.xlsx")):
        statuses.add(413)  # over the export's row cap
    if path.startswith("/v1/auth/"):
        statuses.add(401)  # a login code the verifier refuses
    if path.startswith(("/v1/auth/sms/", "/v1/auth/wechat-web", "/v1/auth/wecom/")):
        statuses.add(404)  # a login this deployment does not offer
    if path.startswith("/v1/auth/wecom/"):
        statuses.add(403)  # a bad, expired or replayed state, or a WeCom account that is no active worker's
    if path == "/readyz":
        statuses.add(503)
    if path.startswith(OPEN311_PREFIX):
        statuses -= {400, 403, 404}
    return sorted(statuses)


def declare_errors(app: FastAPI) -> None:
    """Makes `app.openapi()` declare ErrorBody for each operation's error statuses (replacing FastAPI's 422)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = with_error_bodies(
                get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def with_error_bodies(document: dict[str, Any]) -> dict[str, Any]:
    """`document` with ErrorBody in its components and on every operation's error statuses."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name in _FASTAPI_VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    body = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(body.pop("$defs", {}))
    schemas["ErrorBody"] = body
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            content: dict[str, Any] = {"application/json": {"schema": {"$ref": ERROR_BODY_REF}}}
            if path in BROWSER_LANDINGS:
                content["text/html"] = {"schema": {"type": "string"}}
            for status in error_statuses(path, method, operation):
                meaning = PATH_MEANINGS.get((path, status), MEANINGS[status])
                responses[str(status)] = {"description": meaning, "content": content}
    return document
