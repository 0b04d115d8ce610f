"""`DELETE /v1/me`: a resident erases their own personal data (PIPL art. 47) with the token they signed in with."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from pydantic import BaseModel, Field

from linli.errors import Unavailable
from services.intake.audit.flows import AuditLog
from services.intake.audit.models import AuditAction
from services.intake.auth.http import ResidentDep
from services.intake.ratelimit import RateLimiter, Scope
from services.intake.residents.erasure import ErasureFlows

logger = logging.getLogger(__name__)


class ErasureOut(BaseModel):
    """What was erased; the token used is refused from now on."""

    tickets: int = Field(description="Tickets that no longer name the resident (open ones are still handled).")
    events: int = Field(description="History entries whose author or note changed.")


def me_routes(erasure: ErasureFlows, limiter: RateLimiter, audit: AuditLog | None = None) -> APIRouter:
    """The /v1/me routes: the calling resident's own data; erasures are recorded in `audit` under the tombstone."""
    router = APIRouter(prefix="/v1/me", tags=["residents"])

    @router.delete("", response_model=ErasureOut)
    def erase_me(resident: ResidentDep) -> ErasureOut:
        """Erases the resident's personal data from their tickets and refuses their tokens; 404 when no ticket
        names them. Their tickets stay, anonymized: open ones are still handled, but the resident cannot follow
        them any more."""
        limiter.check(Scope.RESIDENT_WRITE, resident.resident_id)
        report = erasure.erase_resident(resident.resident_id, actor=None, reason="self-service: DELETE /v1/me")
        if audit is not None:
            # The erasure is committed and is the resident's right: a record that cannot be written is logged only.
            try:
                actor = f"resident:{report.tombstone}"
                audit.record(actor, AuditAction.RESIDENT_ERASED, report.tombstone, {"tickets": report.tickets})
            except Unavailable:
                logger.error("a resident's own erasure went unrecorded in the audit log")
        return ErasureOut(tickets=report.tickets, events=report.events)

    return router
