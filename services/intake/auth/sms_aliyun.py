"""Aliyun SMS (dysmsapi `SendSms`, version 2017-05-25), signed with the RPC signature (HMAC-SHA1) over httpx."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from urllib.parse import quote

import httpx

from linli.errors import InvalidArgument, RateLimited
from services.intake.auth.settings import SmsSettings
from services.intake.auth.sms_providers import post_or_unavailable, provider_failure

DEFAULT_ENDPOINT = "https://dysmsapi.aliyuncs.com/"
VERSION = "2017-05-25"
PROVIDER = "aliyun"
BAD_NUMBER_CODES = {"isv.MOBILE_NUMBER_ILLEGAL", "isv.MOBILE_COUNT_OVER_LIMIT", "isv.BLACK_KEY_CONTROL_LIMIT"}
LIMIT_CODES = {"isv.BUSINESS_LIMIT_CONTROL", "isv.DAY_LIMIT_CONTROL"}


def percent_encode(text: str) -> str:
    """RFC 3986 encoding as Aliyun signs it: UTF-8, only A-Z a-z 0-9 - _ . ~ left as they are."""
    return quote(text, safe="~")


def rpc_signature(secret: str, method: str, parameters: Mapping[str, str]) -> str:
    """Base64 HMAC-SHA1, keyed `secret&`, of `METHOD&%2F&` + the encoded, sorted, encoded-again query."""
    canonical = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(parameters.items()))
    string_to_sign = f"{method}&{percent_encode('/')}&{percent_encode(canonical)}"
    digest = hmac.new(f"{secret}&".encode(), string_to_sign.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def _timestamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _nonce() -> str:
    return str(uuid.uuid4())


class AliyunSms:
    """Texts codes with Aliyun's SendSms: the template's variable `aliyun_template_param` holds the code."""

    def __init__(
        self,
        client: httpx.Client,
        settings: SmsSettings,
        *,
        secret_key: str,
        timestamp: Callable[[], str] = _timestamp,
        nonce: Callable[[], str] = _nonce,
    ) -> None:
        self._client = client
        self._settings = settings
        self._secret_key = secret_key
        self._url = settings.base_url or DEFAULT_ENDPOINT
        self._timestamp = timestamp
        self._nonce = nonce

    def build_request(self, phone: str, code: str) -> httpx.Request:
        """The signed SendSms request (a form POST) texting `code` to `phone`."""
        parameters = {
            "AccessKeyId": self._settings.secret_id,
            "Action": "SendSms",
            "Format": "JSON",
            "PhoneNumbers": phone,
            "RegionId": "cn-hangzhou",
            "SignName": self._settings.sign_name,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": self._nonce(),
            "SignatureVersion": "1.0",
            "TemplateCode": self._settings.template_id,
            "TemplateParam": json.dumps({self._settings.aliyun_template_param: code}, separators=(",", ":")),
            "Timestamp": self._timestamp(),
            "Version": VERSION,
        }
        parameters["Signature"] = rpc_signature(self._secret_key, "POST", parameters)
        return httpx.Request("POST", self._url, data=parameters)

    def send_code(self, phone: str, code: str) -> None:
        """Texts the code; InvalidArgument for a number Aliyun refuses, RateLimited for its per-number limits,
        Unavailable otherwise."""
        document = post_or_unavailable(self._client, PROVIDER, self.build_request(phone, code))
        answer = str(document.get("Code", ""))
        if answer == "OK":
            return
        if answer in BAD_NUMBER_CODES:
            raise InvalidArgument.for_field("phone", "这个手机号无法接收验证码,请换一个号码")
        if answer in LIMIT_CODES:
            raise RateLimited("这个手机号收到的验证码太多了,请稍后再试", retry_after_seconds=3600)
        raise provider_failure(PROVIDER, phone, answer, document.get("Message", ""))
