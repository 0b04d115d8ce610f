"""GET /v1/audit: admins read the audit log, newest first, a page at a time; each read is itself recorded."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from linli.errors import PermissionDenied
from linli.tokens import Role
from services.intake.audit.flows import AuditLog, as_utc
from services.intake.audit.models import MAX_ACTOR_LENGTH, AuditAction, AuditEvent
from services.intake.audit.repository import MAX_PAGE_SIZE, AuditQuery
from services.intake.auth.http import WorkerDep

MAX_PAGE_TOKEN = 512


class AuditEventOut(BaseModel):
    """One audited action."""

    id: str
    at: datetime
    actor: str = Field(description="`worker:<id>`, `operator:<login>`, `resident:rp:<pseudonym>` or `anonymous`.")
    action: AuditAction
    subject: str = Field(description="What was acted on: a token's subject, a resident's pseudonym, an export.")
    detail: dict[str, Any] = Field(description="Kinds and counts; never a phone number, openid or token.")
    ip: str


class AuditPageOut(BaseModel):
    """A page of the log; pass `next_page_token` back for the next ('' after the last)."""

    events: list[AuditEventOut]
    next_page_token: str


def event_out(event: AuditEvent) -> AuditEventOut:
    """An event as the API shows it."""
    return AuditEventOut(
        id=event.id,
        at=event.at,
        actor=event.actor,
        action=AuditAction(event.action),
        subject=event.subject,
        detail=json.loads(event.detail or "{}"),
        ip=event.ip,
    )


def audit_routes(audit: AuditLog) -> APIRouter:
    """GET /v1/audit (admins only)."""
    router = APIRouter(prefix="/v1/audit", tags=["audit"])

    @router.get("", response_model=AuditPageOut)
    def list_audit_events(
        worker: WorkerDep,
        action: AuditAction | None = None,
        actor: Annotated[str, Query(max_length=MAX_ACTOR_LENGTH, description="Exactly, e.g. `worker:w1`.")] = "",
        since: Annotated[datetime | None, Query(description="At or after (ISO 8601; no zone: UTC).")] = None,
        until: Annotated[datetime | None, Query(description="Before (ISO 8601; no zone: UTC).")] = None,
        page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
        page_token: Annotated[str, Query(max_length=MAX_PAGE_TOKEN)] = "",
    ) -> AuditPageOut:
        """The audit log, newest first; 403 unless the caller is an admin worker. The read is recorded in the log
        (who, which filters, how many events) before the page is answered; 503 when it cannot be."""
        if worker.role is not Role.ADMIN:
            raise PermissionDenied("只有管理员可以查看审计日志")
        query = AuditQuery(
            action=action,
            actor=actor,
            since=as_utc(since, "since"),
            until=as_utc(until, "until"),
            page_size=page_size,
            page_token=page_token,
        )
        events, next_token = audit.page(query)
        filters = {"action": action.value if action else "", "actor": actor, "page_token": bool(page_token)}
        filters |= {"since": since.isoformat() if since else "", "until": until.isoformat() if until else ""}
        audit.record(worker.actor, AuditAction.AUDIT_LOG_READ, "audit_log", {**filters, "events": len(events)})
        return AuditPageOut(events=[event_out(event) for event in events], next_page_token=next_token)

    return router
