"""Tencent Cloud SMS (API 3.0, `SendSms` of version 2021-01-11), signed with TC3-HMAC-SHA256 over httpx."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx

from linli.errors import InvalidArgument, RateLimited
from services.intake.auth.settings import SmsSettings
from services.intake.auth.sms_providers import post_or_unavailable, provider_failure

DEFAULT_ENDPOINT = "https://sms.tencentcloudapi.com"
SERVICE = "sms"
ACTION = "SendSms"
VERSION = "2021-01-11"
ALGORITHM = "TC3-HMAC-SHA256"
CONTENT_TYPE = "application/json; charset=utf-8"
PROVIDER = "tencent"


def _hmac_sha256(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def tc3_signature(secret_key: str, *, host: str, payload: bytes, timestamp: int, service: str = SERVICE) -> str:
    """The hex TC3-HMAC-SHA256 signature of a JSON POST to `/` of `host` (signed headers: content-type;host)."""
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    canonical_request = "\n".join(
        [
            "POST",
            "/",
            "",
            f"content-type:{CONTENT_TYPE}\nhost:{host}\n",
            "content-type;host",
            hashlib.sha256(payload).hexdigest(),
        ]
    )
    scope = f"{date}/{service}/tc3_request"
    string_to_sign = "\n".join(
        [ALGORITHM, str(timestamp), scope, hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()]
    )
    signing_key = _hmac_sha256(_hmac_sha256(_hmac_sha256(f"TC3{secret_key}".encode(), date), service), "tc3_request")
    return hmac.new(signing_key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


class TencentSms:
    """Texts codes with Tencent Cloud's SendSms: one template parameter, the code."""

    def __init__(
        self,
        client: httpx.Client,
        settings: SmsSettings,
        *,
        secret_key: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._settings = settings
        self._secret_key = secret_key
        self._url = settings.base_url or DEFAULT_ENDPOINT
        self._host = urlsplit(self._url).netloc
        self._clock = clock

    def build_request(self, phone: str, code: str) -> httpx.Request:
        """The signed SendSms request texting `code` to `phone`."""
        body = {
            "PhoneNumberSet": [f"+86{phone}"],
            "SmsSdkAppId": self._settings.sdk_app_id,
            "SignName": self._settings.sign_name,
            "TemplateId": self._settings.template_id,
            "TemplateParamSet": [code],
        }
        payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        timestamp = int(self._clock())
        date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
        signature = tc3_signature(self._secret_key, host=self._host, payload=payload, timestamp=timestamp)
        authorization = (
            f"{ALGORITHM} Credential={self._settings.secret_id}/{date}/{SERVICE}/tc3_request, "
            f"SignedHeaders=content-type;host, Signature={signature}"
        )
        headers = {
            "Authorization": authorization,
            "Content-Type": CONTENT_TYPE,
            "Host": self._host,
            "X-TC-Action": ACTION,
            "X-TC-Timestamp": str(timestamp),
            "X-TC-Version": VERSION,
            "X-TC-Region": self._settings.region,
        }
        return httpx.Request("POST", self._url, content=payload, headers=headers)

    def send_code(self, phone: str, code: str) -> None:
        """Texts the code; InvalidArgument for a number Tencent refuses, RateLimited for its own per-number
        limits, Unavailable otherwise."""
        document = post_or_unavailable(self._client, PROVIDER, self.build_request(phone, code))
        response = document.get("Response")
        if not isinstance(response, dict):
            raise provider_failure(PROVIDER, phone, "no Response", "")
        error = response.get("Error")
        if isinstance(error, dict):
            _raise_for(phone, str(error.get("Code", "")), error.get("Message", ""))
        statuses = response.get("SendStatusSet")
        status = statuses[0] if isinstance(statuses, list) and statuses and isinstance(statuses[0], dict) else {}
        if status.get("Code") != "Ok":
            _raise_for(phone, str(status.get("Code", "no status")), status.get("Message", ""))


def _raise_for(phone: str, code: str, message: object) -> None:
    if code in {"InvalidParameterValue.IncorrectPhoneNumber", "FailedOperation.PhoneNumberInBlacklist"}:
        raise InvalidArgument.for_field("phone", "这个手机号无法接收验证码,请换一个号码")
    if code.startswith("LimitExceeded.PhoneNumber"):
        raise RateLimited("这个手机号今天收到的验证码太多了,请稍后再试", retry_after_seconds=3600)
    raise provider_failure(PROVIDER, phone, code, message)
