"""HTTP side of the workers' WeCom (企业微信) login: `GET /v1/auth/wecom/start` sends the browser to WeCom with a
state cookie, `GET /v1/auth/wecom/callback` turns WeCom's code into the console's session (services/intake/auth/
wecom.py does the work)."""

from __future__ import annotations

import html
from datetime import datetime

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel

from linli.errors import LinliError, NotFound, PermissionDenied, Unauthenticated
from services.intake.auth.http import HttpSecurity, security_of
from services.intake.auth.wecom import WecomLogin
from services.intake.ratelimit.limiter import Scope

STATE_COOKIE = "linli_wecom_state"
COOKIE_PATH = "/v1/auth/wecom"
# The console reads the token from the fragment, which browsers never send to a server, and stores it.
CONSOLE_LANDING = "/console/#wecom_token="


class WorkerSessionOut(BaseModel):
    """A worker's console session: send the token as `Authorization: Bearer <token>` until it expires."""

    token: str
    expires_at: datetime
    worker_id: str


def _wecom_of(request: Request) -> WecomLogin:
    wecom = security_of(request).wecom
    if wecom is None:
        raise NotFound("本服务未开通企业微信登录,请用管理员签发的令牌登录")
    return wecom


def _error_page(error: LinliError) -> HTMLResponse:
    """What a worker's browser shows when the login fails: the reason, and the way back."""
    body = (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>企业微信登录失败</title></head>'
        f"<body><h1>企业微信登录失败</h1><p>{html.escape(error.message)}</p>"
        '<p><a href="/console/">返回工作台</a></p></body></html>'
    )
    return HTMLResponse(body, status_code=error.http_status)


def _audit(security: HttpSecurity, address: str, worker_id: str = "", refusal: LinliError | None = None) -> None:
    """Records the login: a session is handed out only once it is in the audit log (Unavailable otherwise); a
    refused code or account best effort."""
    if security.audit is None:
        return
    if refusal is None:
        security.audit.wecom_login_recorder()(worker_id, address, True)
    elif isinstance(refusal, (PermissionDenied, Unauthenticated)):
        security.audit.login_failed("wecom", reason=refusal.slug, ip=address)


def wecom_routes() -> APIRouter:
    """GET /v1/auth/wecom/start and GET /v1/auth/wecom/callback."""
    router = APIRouter(prefix="/v1/auth/wecom", tags=["auth"])

    @router.get("/start", status_code=302, response_class=RedirectResponse)
    def start(
        request: Request,
        in_app: bool = Query(False, description="True inside the WeCom app: its authorize page, not the QR code."),
        dev_userid: str = Query("", max_length=64, description="Development verifier only: sign in as this userid."),
    ) -> RedirectResponse:
        """Redirects to WeCom's authorize page (in the app) or QR-code login, with a signed state that expires in
        minutes and a cookie binding it to this browser. 404 when WeCom login is off."""
        wecom = _wecom_of(request)
        callback = wecom.app.callback(str(request.base_url))
        url, nonce = wecom.start(callback, in_app=in_app, dev_userid=dev_userid)
        response = RedirectResponse(url, status_code=302)
        response.set_cookie(
            STATE_COOKIE,
            nonce,
            max_age=wecom.states.ttl_seconds,
            path=COOKIE_PATH,
            httponly=True,
            samesite="lax",  # sent back on WeCom's top-level redirect, never on another site's subrequest
            secure=callback.startswith("https://"),
        )
        return response

    @router.get("/callback", response_model=WorkerSessionOut)
    def callback(
        request: Request, code: str = Query("", max_length=512), state: str = Query("", max_length=256)
    ) -> Response:
        """WeCom's redirect back: checks the state, exchanges the code for the WeCom userid, and signs in the active
        worker it belongs to. Browsers land on the console with the session; `Accept: application/json` gets it as
        JSON. 403 for a bad, expired or replayed state, or a WeCom account that is no active worker's; 401 for a
        code WeCom refuses."""
        security = security_of(request)
        wants_json = "application/json" in request.headers.get("accept", "")
        address = security.addresses.of(request)
        try:
            security.limiter.check(Scope.IP_LOGIN, address)
            session = _wecom_of(request).finish(code, state, request.cookies.get(STATE_COOKIE))
            _audit(security, address, session.worker.worker_id)
        except LinliError as error:
            _audit(security, address, refusal=error)
            if wants_json:
                raise
            return _error_page(error)
        response: Response
        if wants_json:
            out = WorkerSessionOut(
                token=session.token, expires_at=session.expires_at, worker_id=session.worker.worker_id
            )
            response = JSONResponse(out.model_dump(mode="json"))
        else:
            response = RedirectResponse(CONSOLE_LANDING + session.token, status_code=303)
        response.delete_cookie(STATE_COOKIE, path=COOKIE_PATH)
        return response

    return router
