"""Who texts the login codes: a provider interface, the development provider that writes the code to the log, and
the choice among them by `LINLI_SMS_PROVIDER` (Tencent Cloud and Aliyun live in sms_tencent.py and sms_aliyun.py).

Only the development provider ever writes a code anywhere; the others log a masked number and the provider's error
code, never the code or the number.
"""

from __future__ import annotations

import logging
from typing import Protocol

import httpx

from linli.errors import Unavailable
from services.intake.auth.phones import mask_phone
from services.intake.auth.settings import SmsSettings

logger = logging.getLogger(__name__)


class SmsProvider(Protocol):
    """Texts a login code to a normalized mainland number; raises Unavailable (or InvalidArgument) on failure."""

    def send_code(self, phone: str, code: str) -> None: ...


class DevSmsProvider:
    """Development: the code goes to intake's log (and so the console of `make run`), nothing is texted."""

    def send_code(self, phone: str, code: str) -> None:
        """Logs the code for the masked number; the console shows it to whoever runs `make run`."""
        # print too: `make run` may send JSON logs elsewhere, and the developer is watching this console.
        print(f"[linli dev SMS] login code for {mask_phone(phone)}: {code}", flush=True)
        logger.warning("development SMS login code", extra={"phone": mask_phone(phone), "dev_sms_code": code})


def provider_failure(provider: str, phone: str, code: object, message: object) -> Unavailable:
    """Logs a provider's refusal (masked number, its error code) and the error the resident reads."""
    logger.error(
        "the SMS provider refused to send a login code",
        extra={"provider": provider, "phone": mask_phone(phone), "provider_code": str(code), "detail": str(message)},
    )
    return Unavailable("短信发送失败,请稍后再试")


def post_or_unavailable(client: httpx.Client, provider: str, request: httpx.Request) -> dict[str, object]:
    """Sends a provider request and returns its JSON object; Unavailable when it cannot be reached or read."""
    try:
        response = client.send(request)
    except httpx.TransportError as error:
        logger.warning(
            "the SMS provider cannot be reached", extra={"provider": provider, "error": type(error).__name__}
        )
        raise Unavailable("短信服务暂时无法连接,请稍后再试") from error
    try:
        document = response.json()
    except ValueError:
        document = None
    if not isinstance(document, dict):
        logger.error(
            "the SMS provider answered no JSON object", extra={"provider": provider, "status": response.status_code}
        )
        raise Unavailable("短信服务暂时不可用,请稍后再试")
    return document


def require(settings: SmsSettings, *names: str) -> None:
    """RuntimeError naming the LINLI_SMS_* variables a production provider lacks."""
    missing = [name for name in names if not getattr(settings, name)]
    if missing:
        variables = ", ".join(f"LINLI_SMS_{name.upper()}" for name in missing)
        raise RuntimeError(f"LINLI_SMS_PROVIDER={settings.provider} needs {variables}")
