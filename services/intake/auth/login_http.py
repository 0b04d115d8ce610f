"""HTTP side of the residents' logins outside the mini-program: SMS codes (`/v1/auth/sms/*`) and the official
account's web authorization (`/v1/auth/wechat-web`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from linli.errors import NotFound
from services.intake.audit.models import AuditAction
from services.intake.auth.http import LoginBody, SessionOut, audited_login, security_of
from services.intake.auth.sms_login import SmsLogin
from services.intake.ratelimit.limiter import Scope

MAX_PHONE_FIELD = 32


class SmsCodeBody(BaseModel):
    """The phone to text a code to."""

    model_config = ConfigDict(extra="forbid", strict=True)

    phone: str = Field(max_length=MAX_PHONE_FIELD, description="Mainland mobile number, e.g. 13800138000 or +86 138…")


class SmsCodeSent(BaseModel):
    """A code was texted; another may be asked for after `retry_after_seconds`."""

    retry_after_seconds: int


class SmsLoginBody(BaseModel):
    """The phone and the code texted to it."""

    model_config = ConfigDict(extra="forbid", strict=True)

    phone: str = Field(max_length=MAX_PHONE_FIELD, description="The number the code was texted to.")
    code: str = Field(max_length=16, description="The six digits of the text message.")


def _sms_of(request: Request) -> SmsLogin:
    sms = security_of(request).sms
    if sms is None:
        # Not a fault of the service: this deployment offers no SMS login, as if the route did not exist.
        raise NotFound("本服务未开通短信登录,请在微信中打开")
    return sms


def login_routes() -> APIRouter:
    """POST /v1/auth/sms/code, POST /v1/auth/sms/login and POST /v1/auth/wechat-web."""
    router = APIRouter(prefix="/v1/auth", tags=["auth"])

    @router.post("/sms/code", response_model=SmsCodeSent)
    def send_sms_code(body: SmsCodeBody, request: Request) -> SmsCodeSent:
        """Texts a 6-digit login code (valid 5 minutes) to a mainland mobile number. 422 for another number, 429
        within a minute of the last code, past ten a day, or while the phone is locked after wrong codes; 503
        when SMS login is not configured or the provider fails."""
        security = security_of(request)
        waiting = _sms_of(request).send_code(body.phone, security.addresses.of(request))
        return SmsCodeSent(retry_after_seconds=waiting)

    @router.post("/sms/login", response_model=SessionOut)
    def sms_login(body: SmsLoginBody, request: Request) -> SessionOut:
        """Exchanges the texted code for a resident token (`resident_id` is `phone:<digest>`, never the number).
        401 for a wrong or expired code; the fifth wrong code locks the phone for 15 minutes (429)."""
        security = security_of(request)
        security.limiter.check(Scope.IP_LOGIN, security.addresses.of(request))
        sms = _sms_of(request)
        return audited_login(request, AuditAction.LOGIN_SMS, "sms", lambda: sms.login(body.phone, body.code))

    @router.post("/wechat-web", response_model=SessionOut)
    def wechat_web_login(body: LoginBody, request: Request) -> SessionOut:
        """Exchanges the `code` WeChat's browser came back with (official-account web authorization, snsapi_base)
        for a resident token; `resident_id` is the official account's openid. 401 when WeChat refuses the code."""
        security = security_of(request)
        security.limiter.check(Scope.IP_LOGIN, security.addresses.of(request))
        web = security.web
        if web is None:
            raise NotFound("本服务未开通微信网页登录,请用手机号登录")
        return audited_login(request, AuditAction.LOGIN_WECHAT, "wechat_web", lambda: web.login.login(body.code))

    return router
