"""The intake HTTP application: login, ticket and meeting routes, one error format, rate limits, liveness and
readiness."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from linli.errors import FieldViolation, InvalidArgument, LinliError, RateLimited, Unauthenticated, Unavailable
from services.intake.audit.flows import AuditLog
from services.intake.audit.http import audit_routes
from services.intake.auth.http import HttpSecurity, auth_routes, worker_routes
from services.intake.auth.login_http import login_routes
from services.intake.auth.wecom_http import wecom_routes
from services.intake.dashboards.flows import DashboardFlows
from services.intake.dashboards.http import dashboard_routes
from services.intake.database import Database
from services.intake.exports.flows import ExportFlows
from services.intake.exports.http import export_routes
from services.intake.exports.models import ExportRecorder, not_recorded
from services.intake.inbox.flows import ActedBeforeColleagues, InboxFlows
from services.intake.inbox.http import inbox_routes
from services.intake.json_text import RefuseLoneSurrogates
from services.intake.meetings.http import meeting_routes
from services.intake.messages.flows import MessageFlows
from services.intake.messages.http import message_routes
from services.intake.openapi_errors import declare_errors
from services.intake.organisation.flows import OrganisationFlows
from services.intake.organisation.http import organisation_routes
from services.intake.ratelimit.http import AddressRateLimit
from services.intake.residents.erasure import ErasureFlows
from services.intake.residents.http import me_routes
from services.intake.search.flows import SearchFlows
from services.intake.search.http import search_routes
from services.intake.tickets.contact import ContactFlows, ContactReadRecorder, no_audit_log
from services.intake.tickets.flows import TicketFlows
from services.intake.tickets.http import ticket_routes
from services.intake.tickets.resident_privacy import ResidentAlias
from services.intake.uploads.assembly import Uploads
from services.intake.uploads.http import mount_uploads
from services.intake.web import mount_faces
from services.intake.web.faces import FaceServices


def error_body(error: LinliError) -> dict[str, Any]:
    """The one JSON shape of every error: code, message, and the fields at fault."""
    return {
        "error": {
            "code": error.slug,
            "message": error.message,
            "fields": [{"field": v.field, "description": v.description} for v in error.violations],
        }
    }


# The codes of the errors Starlette and FastAPI raise themselves (a body that cannot be read, an unknown path).
_HTTP_CODES = {400: "invalid_argument", 404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}


def http_error_body(error: HTTPException) -> dict[str, Any]:
    """An error raised by the framework, in the one shape of every error."""
    code = _HTTP_CODES.get(error.status_code, "http_error")
    return {"error": {"code": code, "message": str(error.detail), "fields": []}}


def _field_name(location: tuple[Any, ...]) -> str:
    # ("body", "attachment_urls", 0) -> "attachment_urls[0]"; a whole-body problem stays "body".
    parts = [str(p) for p in location[1:]] or [str(location[0]) if location else "body"]
    name = parts[0]
    for part in parts[1:]:
        name += f"[{part}]" if part.isdigit() else f".{part}"
    return name


def validation_error(exc: RequestValidationError) -> LinliError:
    """Maps FastAPI's schema errors to InvalidArgument, naming each field."""
    violations = []
    for problem in exc.errors():
        location = tuple(problem.get("loc", ("body",)))
        if problem.get("type") == "json_invalid":
            return InvalidArgument.for_field("body", "is not valid JSON")
        violations.append(FieldViolation(_field_name(location), str(problem.get("msg", "is invalid"))))
    return InvalidArgument.for_fields(violations)


def error_response(error: LinliError) -> JSONResponse:
    """The error as the API answers it; 401 says which scheme to use, 429 when to come back."""
    headers = None
    if isinstance(error, Unauthenticated):
        headers = {"WWW-Authenticate": "Bearer"}
    elif isinstance(error, RateLimited):
        headers = {"Retry-After": str(error.retry_after_seconds)}
    return JSONResponse(error_body(error), status_code=error.http_status, headers=headers)


def create_http_app(
    flows: TicketFlows,
    security: HttpSecurity,
    database: Database,
    ready: threading.Event,
    erasure: ErasureFlows | None = None,
    messages: MessageFlows | None = None,
    uploads: Uploads | None = None,
    *,
    faces: FaceServices,
    organisation: OrganisationFlows | None = None,
    dashboards: DashboardFlows | None = None,
    exports: ExportFlows | None = None,
    inbox: InboxFlows | None = None,
) -> FastAPI:
    """The FastAPI app; `ready` is set once the database schema is in place. `DELETE /v1/me` is served when
    `erasure` is given, the tickets' conversations (`/v1/tickets/{id}/messages`) when `messages` is, photo uploads
    when `uploads` is, streets, communities and workers (`/v1/org/*`) when `organisation` is; `faces` serve the
    pages, instant answers, hot topics, meetings and Open311. `dashboards` and `exports` default to ones over
    `database` that know no street's communities and tell exports to `security.audit` (if any), `inbox` (/v1/inbox,
    assignment, bulk actions) to one that knows colleagues by their ticket history: the composition root wires the
    organisation's streets and workers and the audit log in."""
    app = FastAPI(
        title="linli intake",
        version="v1",
        description="Residents' complaints in, routed tickets out. Every ticket call needs `Authorization: Bearer "
        "<token>`: residents get theirs from `POST /v1/auth/wechat` (mini-program), `/v1/auth/wechat-web` (WeChat's "
        "browser) or `/v1/auth/sms/login` (any browser), workers from the WeCom login (`/v1/auth/wecom/start`) or "
        "`linli token issue`. A ticket "
        "the caller may not see is 404. Too many requests: 429 with `Retry-After`. "
        "Errors: {error: {code, message, fields}}.",
    )
    app.state.security = security
    # Added first, so inside the rate limit: a flood of bad bodies is still counted.
    app.add_middleware(RefuseLoneSurrogates, refuse=error_response)
    app.add_middleware(AddressRateLimit, limiter=security.limiter, addresses=security.addresses, refuse=error_response)
    _add_people_routes(app, organisation)
    on_export = security.audit.export_recorder() if security.audit else not_recorded
    _add_report_routes(app, database, dashboards, exports, clock=flows.context.clock, on_export=on_export)
    # Workers see residents by the audit log's pseudonym, never by openid (services/intake/tickets/resident_privacy.py).
    alias = _include_audit(app, security)
    contact = contact_flows(flows, security)
    app.include_router(ticket_routes(flows, security.limiter, uploads.links if uploads else None, alias, contact))
    # Workers' search over the tickets they may see (services/intake/search).
    app.include_router(search_routes(SearchFlows(database), uploads.links if uploads else None))
    inbox = inbox or InboxFlows(flows.context, flows, ActedBeforeColleagues())
    app.include_router(inbox_routes(inbox, uploads.links if uploads else None))
    if uploads is not None:
        mount_uploads(app, uploads, security.limiter, error_response)
    if erasure is not None:
        app.include_router(me_routes(erasure, security.limiter, security.audit))
    if messages is not None:
        app.include_router(message_routes(messages, security.limiter, uploads.links if uploads else None, alias))
    # The H5 page, the worker console, instant answers, hot topics and Open311 (services/intake/web).
    mount_faces(app, faces)
    # Hot topics put to the residents' meeting, and its public decisions (services/intake/meetings).
    app.include_router(meeting_routes(lambda: faces.meetings))

    _add_error_handlers(app)
    _add_ops_routes(app, database, ready)
    declare_errors(app)
    return app


def _add_people_routes(app: FastAPI, organisation: OrganisationFlows | None) -> None:
    """The logins, who a worker is, and the organisation they belong to."""
    app.include_router(auth_routes())
    # Logins outside the mini-program: SMS codes and the official account's web authorization.
    app.include_router(login_routes())
    # Workers' WeCom (企业微信) login for the console.
    app.include_router(wecom_routes())
    app.include_router(worker_routes(organisation.display_name if organisation is not None else None))
    if organisation is not None:
        app.include_router(organisation_routes(organisation))


def _include_audit(app: FastAPI, security: HttpSecurity) -> ResidentAlias | None:
    """GET /v1/audit where the audit log is configured; returns the pseudonyms workers see residents by (None: ids
    as stored, for tests of other things)."""
    if security.audit is None:
        return None
    app.include_router(audit_routes(security.audit))
    return security.audit.pseudonyms.of


def contact_flows(flows: TicketFlows, security: HttpSecurity) -> ContactFlows:
    """Callback numbers read in full: each read recorded in the audit log (none: no number), each worker held to
    the limiter's WORKER_CONTACT limit, and each refusal over it recorded too."""
    if security.audit is None:
        return ContactFlows(flows.context, no_audit_log, limiter=security.limiter)
    audit = security.audit

    def on_refused(actor: str, resident_id: str, ticket_id: str) -> None:
        audit.personal_data_refused(
            actor, resident_id=resident_id, fields=["contact_phone"], ticket_id=ticket_id, reason="rate_limited"
        )

    return ContactFlows(flows.context, contact_recorder(audit), limiter=security.limiter, on_refused=on_refused)


def contact_recorder(audit: AuditLog) -> ContactReadRecorder:
    """A worker's read of a callback number as the audit log's personal_data_read (raises Unavailable)."""

    def on_read(actor: str, resident_id: str, ticket_id: str) -> None:
        audit.personal_data_read(actor, resident_id=resident_id, fields=["contact_phone"], ticket_id=ticket_id)

    return on_read


def _add_report_routes(
    app: FastAPI,
    database: Database,
    dashboards: DashboardFlows | None,
    exports: ExportFlows | None,
    *,
    clock: Callable[[], datetime],
    on_export: ExportRecorder,
) -> None:
    """The dashboards and the exports (of an inbox view: by the tickets' `clock`; each told to `on_export`); before
    the ticket routes, or /v1/tickets/export.csv would be a ticket id."""
    dashboards = dashboards or DashboardFlows(database)
    app.include_router(dashboard_routes(dashboards))
    app.include_router(export_routes(exports or ExportFlows(database, dashboards, on_export=on_export, clock=clock)))


def _add_error_handlers(app: FastAPI) -> None:
    """Every error as {error: {code, message, fields}} with its HTTP status."""

    @app.exception_handler(LinliError)
    async def domain_error(_request: Request, exc: LinliError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def schema_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        error = validation_error(exc)
        status = 400 if error.violations and error.violations[0].field == "body" else error.http_status
        return JSONResponse(error_body(error), status_code=status)

    @app.exception_handler(HTTPException)
    async def framework_error(_request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse(http_error_body(exc), status_code=exc.status_code, headers=exc.headers)


def _add_ops_routes(app: FastAPI, database: Database, ready: threading.Event) -> None:
    """GET /healthz (liveness) and GET /readyz (readiness)."""

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"])
    def readyz() -> dict[str, str]:
        """Readiness: the migrations ran and the database answers."""
        if not ready.is_set():
            raise Unavailable("intake is starting")
        try:
            database.ping()
        except Exception as error:
            raise Unavailable("the ticket database does not answer") from error
        return {"status": "ready"}
