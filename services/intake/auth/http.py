"""HTTP side of authentication: the bearer-token dependencies, the residents' login exchange and who a worker is."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from linli.errors import RateLimited, Unauthenticated
from linli.parties import display_name
from services.intake.audit.flows import AuditLog
from services.intake.audit.models import AuditAction
from services.intake.auth.authenticator import Authenticator
from services.intake.auth.identity import Caller, Resident, Worker, require_resident, require_worker
from services.intake.auth.residents import ResidentLogin, Session
from services.intake.auth.sms_login import SmsLogin
from services.intake.auth.wechat_web import WebLogin
from services.intake.auth.wecom import WecomLogin
from services.intake.ratelimit.http import ClientAddresses
from services.intake.ratelimit.limiter import RateLimiter, Scope


@dataclass(frozen=True)
class HttpSecurity:
    """Who is calling, how residents and workers log in, and how much anyone may ask; kept in the app's state.
    `sms`, `web` (the official account's login) and `wecom` (workers' WeCom login) are None where not configured;
    `audit` records logins (None: tests that do not look at the audit log; intake's server always sets it)."""

    authenticator: Authenticator
    login: ResidentLogin
    limiter: RateLimiter
    addresses: ClientAddresses
    sms: SmsLogin | None = None
    web: WebLogin | None = None
    wecom: WecomLogin | None = None
    audit: AuditLog | None = None


_bearer = HTTPBearer(
    auto_error=False,
    description="A resident's token from `POST /v1/auth/wechat`, `/v1/auth/wechat-web` or `/v1/auth/sms/login`, or "
    "a worker's from the WeCom login (`GET /v1/auth/wecom/start`) or `linli token issue`.",
)


def security_of(request: Request) -> HttpSecurity:
    """The app's HttpSecurity."""
    security: HttpSecurity = request.app.state.security
    return security


async def current_caller(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Caller:
    """The resident or worker whose bearer token came with the request; 401 without a valid one.

    On the event loop when the token's check reads no database (the usual case), else on a worker thread.
    """
    header = f"{credentials.scheme} {credentials.credentials}" if credentials else None
    authenticator = security_of(request).authenticator
    caller = authenticator.identify_in_memory(header)
    return caller if caller is not None else await run_in_threadpool(authenticator.identify, header)


# Async: a check without I/O runs on the event loop, where a sync dependency would cost a thread hand-off each.
async def current_worker(caller: Annotated[Caller, Depends(current_caller)]) -> Worker:
    """The calling worker; 403 for a resident's token."""
    return require_worker(caller)


async def current_resident(caller: Annotated[Caller, Depends(current_caller)]) -> Resident:
    """The calling resident; 403 for a worker's token."""
    return require_resident(caller)


CallerDep = Annotated[Caller, Depends(current_caller)]
WorkerDep = Annotated[Worker, Depends(current_worker)]
ResidentDep = Annotated[Resident, Depends(current_resident)]


class LoginBody(BaseModel):
    """The code of the mini-program's `wx.login` (in development: `dev:<openid>`)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    code: str = Field(description="Login code from wx.login; with the dev verifier `dev:<openid>`.")


class SessionOut(BaseModel):
    """The resident's token: send it as `Authorization: Bearer <token>` until it expires, then log in again."""

    token: str
    expires_at: datetime
    resident_id: str = Field(description="The resident's openid, as their tickets carry it.")


def audited_login(request: Request, action: AuditAction, method: str, attempt: Callable[[], Session]) -> SessionOut:
    """Runs a resident's login and records it: the token is handed out only once its login is in the audit log
    (Unavailable otherwise); a refused code or a locked phone is recorded as `login_failed` by method, reason and
    address, never with the phone number or the code."""
    security = security_of(request)
    address = security.addresses.of(request)
    try:
        session = attempt()
    except (Unauthenticated, RateLimited) as error:
        if security.audit is not None:
            security.audit.login_failed(method, reason=error.slug, ip=address)
        raise
    if security.audit is not None:
        security.audit.resident_login(action, session.resident_id, method=method, ip=address)
    return SessionOut(token=session.token, expires_at=session.expires_at, resident_id=session.resident_id)


def auth_routes() -> APIRouter:
    """POST /v1/auth/wechat: the residents' login exchange (limited per client address); the logins outside the
    mini-program are in login_http.py."""
    router = APIRouter(prefix="/v1/auth", tags=["auth"])

    @router.post("/wechat", response_model=SessionOut)
    def wechat_login(body: LoginBody, request: Request) -> SessionOut:
        """Exchanges a mini-program login code for a resident token; 401 when WeChat refuses the code."""
        security = security_of(request)
        security.limiter.check(Scope.IP_LOGIN, security.addresses.of(request))
        login = security.login
        return audited_login(request, AuditAction.LOGIN_WECHAT, "wechat_mini_program", lambda: login.login(body.code))

    return router


class WorkerOut(BaseModel):
    """The signed-in worker, as the console shows them."""

    worker_id: str
    display_name: str = Field("", description="Their name as the organisation registered it; '' when none is.")
    party: str
    party_name: str
    community: str
    role: str
    street: str = Field("", description="A street office worker's street code: they serve its every community.")
    communities: list[str] | None = Field(
        None, description="The communities the worker serves, sorted; null for every community."
    )


def worker_routes(display_name_of: Callable[[str], str] | None = None) -> APIRouter:
    """GET /v1/workers/me: who a worker's bearer token stands for (the console's header), named by
    `display_name_of` (the organisation's registry) when given."""
    router = APIRouter(prefix="/v1/workers", tags=["workers"])

    @router.get("/me", response_model=WorkerOut)
    def me(worker: WorkerDep) -> WorkerOut:
        """Who the bearer token stands for."""
        return WorkerOut(
            worker_id=worker.worker_id,
            display_name=display_name_of(worker.worker_id) if display_name_of is not None else "",
            party=worker.party,
            party_name=display_name(worker.party),
            community=worker.community,
            role=worker.role.value,
            street=worker.street,
            communities=list(scope) if (scope := worker.community_scope) is not None else None,
        )

    return router
