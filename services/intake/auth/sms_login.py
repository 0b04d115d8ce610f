"""Residents' login by a code texted to their phone: send a code, exchange it for a resident token.

Codes are six random digits, stored only as an HMAC keyed with the token signing key, usable for
`LINLI_SMS_CODE_TTL_SECONDS` and once. Wrong codes are counted per phone; `LINLI_SMS_MAX_WRONG_ATTEMPTS` of them lock
the phone for `LINLI_SMS_LOCK_MINUTES`. Sending is limited per phone (one code a minute, ten a day) and per client
address. The resident's id is `phone:<keyed digest>`; the number itself is kept in no table, token or log line.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import httpx
from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession

from linli.errors import InvalidArgument, RateLimited, Unauthenticated
from linli.tokens import TokenCodec, TokenKind
from services.intake.auth.models import SmsCode
from services.intake.auth.phones import PhoneIds, normalize_phone
from services.intake.auth.residents import Session, is_loopback
from services.intake.auth.settings import MIN_PHONE_ID_SECRET_LENGTH, SmsSettings
from services.intake.auth.sms_aliyun import AliyunSms
from services.intake.auth.sms_providers import DevSmsProvider, SmsProvider, require
from services.intake.auth.sms_tencent import TencentSms
from services.intake.database import Database
from services.intake.ratelimit.limiter import Limit, RateLimiter, Scope
from services.intake.tickets.context import Clock, utc_now

CODE_DIGITS = 6
CODE_FORMAT = re.compile(rf"[0-9]{{{CODE_DIGITS}}}")
# Residents count days in China Standard Time: the daily limit resets at their midnight.
CHINA_TIME = timezone(timedelta(hours=8), "CST")
HOUR_SECONDS = 3600
WRONG_OR_EXPIRED = "验证码错误或已过期,请重新获取"
TOO_MANY_WRONG = "验证码错误次数过多,请稍后再试"
# A phone's row is kept this long after its last code: past the daily limit's day, nothing in it matters.
IDLE_DAYS = 2


def _lock_refusal(row: SmsCode | None, now: datetime) -> RateLimited | None:
    if row is None or row.locked_until is None or row.locked_until <= now:
        return None
    return RateLimited(TOO_MANY_WRONG, retry_after_seconds=_seconds_until(row.locked_until, now))


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))


@dataclass(frozen=True)
class SmsKeys:
    """The two HMAC keys: one hides codes (may rotate: codes live minutes), one names phones (must never change)."""

    code_key: bytes
    phone_ids: PhoneIds


class SmsLogin:
    """Sends login codes and exchanges them for resident tokens."""

    def __init__(
        self,
        database: Database,
        provider: SmsProvider,
        codec: TokenCodec,
        keys: SmsKeys,
        settings: SmsSettings,
        *,
        limiter: RateLimiter,
        token_ttl: timedelta,
        clock: Clock = utc_now,
    ) -> None:
        self._database = database
        self._provider = provider
        self._codec = codec
        self._keys = keys
        self._settings = settings
        self._limiter = limiter.with_limits(
            {Scope.IP_SMS_CODE: Limit(settings.codes_per_address_per_hour, HOUR_SECONDS)}
        )
        self._token_ttl = token_ttl
        self._clock = clock

    def code_hash(self, phone_key: str, code: str) -> str:
        """HMAC-SHA256 of the code, bound to the phone so that a row's hash is useless for any other."""
        return hmac.new(self._keys.code_key, f"{phone_key}:{code}".encode(), hashlib.sha256).hexdigest()

    def send_code(self, phone_text: str, client_address: str) -> int:
        """Texts a fresh code to the phone; returns the seconds before another may be asked for.

        Raises InvalidArgument for a number that is no mainland mobile, RateLimited over a limit or while the phone
        is locked, Unavailable when the provider fails (then nothing is recorded and the resident may retry).
        """
        phone = normalize_phone(phone_text)
        self._limiter.check(Scope.IP_SMS_CODE, client_address)
        phone_key = self._keys.phone_ids.digest(phone)
        self._ensure_row(phone_key)
        with self._database.unit_of_work() as session:
            row = self._locked_row(session, phone_key)
            now = self._clock()
            self._check_may_send(row, now)
            code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
            row.code_hash = self.code_hash(phone_key, code)
            row.expires_at = now + timedelta(seconds=self._settings.code_ttl_seconds)
            row.last_sent_at = now
            row.sent_today += 1
            # Inside the transaction: if the provider fails, the code and the count roll back with it.
            self._provider.send_code(phone, code)
        return self._settings.resend_seconds

    def login(self, phone_text: str, code: str) -> Session:
        """The resident token for a right code; Unauthenticated for a wrong or expired one, RateLimited while the
        phone is locked (the wrong attempt that locks it included)."""
        phone = normalize_phone(phone_text)
        code = code.strip()
        if not CODE_FORMAT.fullmatch(code):
            raise InvalidArgument.for_field("code", f"请输入短信里的 {CODE_DIGITS} 位数字验证码")
        phone_key = self._keys.phone_ids.digest(phone)
        # The outcome is decided inside the transaction but raised after it: a wrong attempt must be committed.
        with self._database.unit_of_work() as session:
            row = self._locked_row(session, phone_key) if self._row_exists(session, phone_key) else None
            refusal = self._check_code(row, phone_key, code, self._clock())
        if refusal is not None:
            raise refusal
        resident_id = self._keys.phone_ids.resident_id(phone)
        token, claims = self._codec.issue(TokenKind.RESIDENT, resident_id, ttl=self._token_ttl)
        return Session(token, claims.expires_at, resident_id)

    def _check_may_send(self, row: SmsCode, now: datetime) -> None:
        if (locked := _lock_refusal(row, now)) is not None:
            raise locked
        if row.last_sent_at is not None:
            next_send = row.last_sent_at + timedelta(seconds=self._settings.resend_seconds)
            if next_send > now:
                raise RateLimited("验证码已发送,请稍后再获取", retry_after_seconds=_seconds_until(next_send, now))
        today = now.astimezone(CHINA_TIME)
        if row.sent_day != today.date().isoformat():
            row.sent_day, row.sent_today = today.date().isoformat(), 0
        if row.sent_today >= self._settings.codes_per_phone_per_day:
            midnight = (today + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
            wait = _seconds_until(midnight, now)
            raise RateLimited("这个手机号今天获取验证码的次数已用完,请明天再试", retry_after_seconds=wait)

    def _check_code(self, row: SmsCode | None, phone_key: str, code: str, now: datetime) -> Exception | None:
        if (locked := _lock_refusal(row, now)) is not None:
            return locked
        if row is None or not row.code_hash or row.expires_at is None:
            return Unauthenticated(WRONG_OR_EXPIRED)
        if row.expires_at <= now:
            row.code_hash, row.expires_at = "", None
            return Unauthenticated("验证码已过期,请重新获取")
        if hmac.compare_digest(self.code_hash(phone_key, code), row.code_hash):
            # Used once: the code and the wrong attempts before it are spent.
            row.code_hash, row.expires_at, row.wrong_attempts = "", None, 0
            return None
        row.wrong_attempts += 1
        left = self._settings.max_wrong_attempts - row.wrong_attempts
        if left > 0:
            return Unauthenticated(f"验证码错误,还可以再试 {left} 次")
        lock = timedelta(minutes=self._settings.lock_minutes)
        row.code_hash, row.expires_at, row.wrong_attempts, row.locked_until = "", None, 0, now + lock
        return RateLimited(TOO_MANY_WRONG, retry_after_seconds=int(lock.total_seconds()))

    def prune_idle(self, session: DbSession, now: datetime) -> int:
        """Deletes the rows of phones sent nothing for IDLE_DAYS and not locked (their limits are long reset);
        returns how many."""
        idle = delete(SmsCode).where(
            SmsCode.last_sent_at < now - timedelta(days=IDLE_DAYS),
            or_(SmsCode.locked_until.is_(None), SmsCode.locked_until < now),
        )
        return int(session.execute(idle).rowcount or 0)  # type: ignore[attr-defined]

    def _ensure_row(self, phone_key: str) -> None:
        # Created in a transaction of its own, so that the next one can lock it (SELECT ... FOR UPDATE). A phone
        # new to the table is the moment to forget idle ones: the table stays the size of recent use.
        try:
            with self._database.unit_of_work() as session:
                if not self._row_exists(session, phone_key):
                    self.prune_idle(session, self._clock())
                    session.add(SmsCode(phone_key=phone_key, code_hash="", sent_day="", sent_today=0, wrong_attempts=0))
        except IntegrityError:
            pass  # a concurrent request created it first

    @staticmethod
    def _row_exists(session: DbSession, phone_key: str) -> bool:
        return session.scalar(select(SmsCode.phone_key).where(SmsCode.phone_key == phone_key)) is not None

    @staticmethod
    def _locked_row(session: DbSession, phone_key: str) -> SmsCode:
        return session.scalars(select(SmsCode).where(SmsCode.phone_key == phone_key).with_for_update()).one()


def create_provider(settings: SmsSettings, *, client: httpx.Client | None = None) -> SmsProvider | None:
    """The provider `LINLI_SMS_PROVIDER` names (None when `off`); RuntimeError when its credentials are missing."""
    if settings.provider == "off":
        return None
    if settings.provider == "dev":
        return DevSmsProvider()
    require(settings, "secret_id", "secret_key", "sign_name", "template_id")
    http = client or httpx.Client(timeout=settings.timeout_seconds)
    secret = settings.secret_key.get_secret_value() if settings.secret_key else ""
    if settings.provider == "tencent":
        require(settings, "sdk_app_id")
        return TencentSms(http, settings, secret_key=secret)
    return AliyunSms(http, settings, secret_key=secret)


def sms_keys(settings: SmsSettings, signing_key: bytes) -> SmsKeys:
    """The code key (derived from the token signing key) and the phone-id key (`LINLI_SMS_PHONE_ID_SECRET`, or
    for `dev` only, derived from the signing key); RuntimeError when a production provider lacks the latter."""
    code_key = hmac.new(signing_key, b"linli sms codes", hashlib.sha256).digest()
    if settings.phone_id_secret is not None:
        secret = settings.phone_id_secret.get_secret_value()
        if len(secret) < MIN_PHONE_ID_SECRET_LENGTH:
            raise RuntimeError(f"LINLI_SMS_PHONE_ID_SECRET must be at least {MIN_PHONE_ID_SECRET_LENGTH} characters")
        return SmsKeys(code_key, PhoneIds(secret.encode()))
    if settings.provider != "dev":
        raise RuntimeError(
            f"LINLI_SMS_PROVIDER={settings.provider} needs LINLI_SMS_PHONE_ID_SECRET (a key that never changes: "
            "it names SMS residents)"
        )
    return SmsKeys(code_key, PhoneIds(hmac.new(signing_key, b"linli phone ids", hashlib.sha256).digest()))


@dataclass(frozen=True)
class SmsWiring:
    """What create_sms_login needs besides settings."""

    database: Database
    codec: TokenCodec
    # Read only when SMS login is on: intake without it may run on an injected codec and no LINLI_AUTH_SECRETS.
    signing_key: Callable[[], bytes]
    limiter: RateLimiter
    token_ttl: timedelta
    host: str
    clock: Clock = utc_now


def create_sms_login(
    settings: SmsSettings, wiring: SmsWiring, *, client: httpx.Client | None = None
) -> SmsLogin | None:
    """The SMS login `LINLI_SMS_*` configures, None when off; RuntimeError when it cannot run safely (the dev
    provider off loopback, missing credentials)."""
    if settings.provider == "dev" and not is_loopback(wiring.host):
        raise RuntimeError(
            "LINLI_SMS_PROVIDER=dev writes login codes to the log: it is only allowed when intake binds a loopback "
            f"address, not {wiring.host!r}; use `tencent` or `aliyun`"
        )
    provider = create_provider(settings, client=client)
    if provider is None:
        return None
    keys = sms_keys(settings, wiring.signing_key())
    return SmsLogin(
        wiring.database,
        provider,
        wiring.codec,
        keys,
        settings,
        limiter=wiring.limiter,
        token_ttl=wiring.token_ttl,
        clock=wiring.clock,
    )
