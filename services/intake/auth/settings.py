"""Typed settings of the residents' logins outside the mini-program: SMS codes (LINLI_SMS_*) and the WeChat
official account's web authorization (LINLI_WECHAT_OA_*)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from linli.settings import LinliSettings

MIN_PHONE_ID_SECRET_LENGTH = 32


class SmsSettings(LinliSettings):
    """Login by a code texted to a mainland mobile number: the provider, its credentials and the limits."""

    model_config = SettingsConfigDict(env_prefix="LINLI_SMS_", extra="forbid", frozen=True, hide_input_in_errors=True)
    env_only_fields: ClassVar[frozenset[str]] = frozenset({"phone_id_secret", "secret_key"})

    provider: Literal["off", "dev", "tencent", "aliyun"] = Field(
        "off",
        description="Who texts the codes: `tencent` (Tencent Cloud SMS), `aliyun` (Aliyun SMS), `dev` (writes the "
        "code to intake's log, refused unless intake binds a loopback address) or `off` (no SMS login).",
    )
    phone_id_secret: SecretStr | None = Field(
        None,
        description="HMAC key (≥ 32 characters) turning a phone number into the resident's id `phone:<hmac>`; never "
        "change it, or SMS residents lose their tickets. Required by `tencent` and `aliyun`; `dev` falls back to the "
        "token signing key. Environment only.",
    )
    code_ttl_seconds: int = Field(300, ge=60, le=1800, description="How long a texted code can be used.")
    max_wrong_attempts: int = Field(5, ge=1, le=20, description="Wrong codes for a phone before it is locked.")
    lock_minutes: int = Field(15, ge=1, le=24 * 60, description="How long a phone stays locked after them.")
    resend_seconds: int = Field(60, ge=10, le=600, description="Wait between two codes to the same phone.")
    codes_per_phone_per_day: int = Field(10, ge=1, le=100, description="Codes texted to one phone per UTC day.")
    codes_per_address_per_hour: int = Field(
        20, ge=0, description="Codes requested from one client address per hour (0: no limit)."
    )
    timeout_seconds: float = Field(5.0, gt=0, le=30, description="Deadline of one call to the SMS provider.")
    base_url: str = Field(
        "",
        description="Provider API endpoint; empty: https://sms.tencentcloudapi.com or https://dysmsapi.aliyuncs.com.",
    )
    secret_id: str = Field("", description="Tencent SecretId or Aliyun AccessKeyId.")
    secret_key: SecretStr | None = Field(
        None, description="Tencent SecretKey or Aliyun AccessKeySecret; environment only."
    )
    sign_name: str = Field("", description="The approved SMS signature (签名), e.g. 邻里社区.")
    template_id: str = Field(
        "", description="The approved template: Tencent TemplateId (one parameter, the code) or Aliyun TemplateCode."
    )
    sdk_app_id: str = Field("", description="Tencent SmsSdkAppId (1400…); unused by Aliyun.")
    region: str = Field("ap-guangzhou", description="Tencent region of the SMS API; unused by Aliyun.")
    aliyun_template_param: str = Field(
        "code", description="Name of the code's variable in the Aliyun template (`${code}`)."
    )


class WeChatOaSettings(LinliSettings):
    """The WeChat official account (公众号) whose web authorization signs residents in inside WeChat's browser."""

    model_config = SettingsConfigDict(
        env_prefix="LINLI_WECHAT_OA_", extra="forbid", frozen=True, hide_input_in_errors=True
    )
    env_only_fields: ClassVar[frozenset[str]] = frozenset({"app_secret"})

    appid: str = Field(
        "",
        description="Official account appid; empty turns the web authorization off (unless the resident verifier is "
        "`dev`, which also takes `dev:<openid>` here).",
    )
    app_secret: SecretStr | None = Field(None, description="Official account app secret; environment only.")
    base_url: str = Field("https://api.weixin.qq.com", description="WeChat API base URL of the code exchange.")
    authorize_url: str = Field(
        "https://open.weixin.qq.com/connect/oauth2/authorize",
        description="Where the H5 page sends residents to authorize (snsapi_base: silent, the openid only).",
    )
    timeout_seconds: float = Field(5.0, gt=0, le=30, description="Deadline of one sns/oauth2/access_token call.")


class WecomSettings(LinliSettings):
    """WeCom (企业微信) OAuth login of the workers' console: the corp, its self-built app, and the verifier."""

    model_config = SettingsConfigDict(env_prefix="LINLI_WECOM_", extra="forbid", frozen=True, hide_input_in_errors=True)
    env_only_fields: ClassVar[frozenset[str]] = frozenset({"secret"})

    verifier: Literal["off", "dev", "wecom"] = Field(
        "off",
        description="Who checks a login's code: `wecom` (WeCom's API, with CORP_ID, AGENT_ID and SECRET), `dev` "
        "(takes `dev:<userid>` on trust, refused unless intake binds a loopback address) or `off` (workers paste "
        "tokens only).",
    )
    corp_id: str = Field("", description="The corp's id (企业ID, ww…), the `appid` of the authorize URLs.")
    agent_id: str = Field("", description="The self-built app's AgentId, for the QR-code web login.")
    secret: SecretStr | None = Field(None, description="The self-built app's Secret; environment only.")
    redirect_base: str = Field(
        "",
        description="Public https base URL of intake (a domain WeCom trusts), e.g. https://linli.example; the "
        "callback is `<base>/v1/auth/wecom/callback`. Required by `wecom`; empty in development: the request's own.",
    )
    api_base_url: str = Field("https://qyapi.weixin.qq.com", description="WeCom API base URL (gettoken, getuserinfo).")
    authorize_url: str = Field(
        "https://open.weixin.qq.com/connect/oauth2/authorize",
        description="Where a worker inside the WeCom app authorizes (snsapi_base: silent, the userid only).",
    )
    qr_login_url: str = Field(
        "https://login.work.weixin.qq.com/wwlogin/sso/login",
        description="Where a worker in another browser scans a QR code with the WeCom app.",
    )
    token_ttl_hours: int = Field(12, ge=1, le=72, description="How long the console session of a WeCom login lasts.")
    state_ttl_seconds: int = Field(600, ge=60, le=3600, description="How long a started login may take to return.")
    timeout_seconds: float = Field(5.0, gt=0, le=30, description="Deadline of one call to WeCom's API.")
