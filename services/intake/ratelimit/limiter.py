"""The limits per scope and their check: RateLimited (HTTP 429 with Retry-After, gRPC RESOURCE_EXHAUSTED).

If the counters' Redis does not answer, requests pass (fail open) and a warning is logged: a limiter outage must
never cost a resident an accepted ticket.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

import redis

from linli.errors import RateLimited
from services.intake.metrics import RATE_LIMITED
from services.intake.ratelimit.counters import MemoryWindowCounter, RedisWindowCounter, WindowCounter
from services.intake.settings import RateLimitSettings

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60
HOUR_SECONDS = 3600
# After a Redis fault the limiter stops asking for a while, so a dead Redis costs no request a timeout each.
REDIS_RETRY_SECONDS = 5.0
REDIS_TIMEOUT_SECONDS = 0.25

Answer = TypeVar("Answer")


class Scope(StrEnum):
    """What a limit counts; also the `scope` label of linli_intake_rate_limited_total."""

    RESIDENT_SUBMIT = "resident_submit"
    RESIDENT_WRITE = "resident_write"
    IP = "ip"
    IP_LOGIN = "ip_login"
    IP_SMS_CODE = "ip_sms_code"
    WORKER_CONTACT = "worker_contact"


# What the one refused reads, by scope: a resident or a worker, in Chinese (the H5 page shows it as it comes);
# operators have the scope on linli_intake_rate_limited_total and the limits in the settings.
REFUSALS: Mapping[Scope, str] = {
    Scope.RESIDENT_SUBMIT: "提交太频繁,请稍后再试",
    Scope.RESIDENT_WRITE: "操作太频繁,请稍后再试",
    Scope.IP: "请求太频繁,请稍后再试",
    Scope.IP_LOGIN: "登录太频繁,请稍后再试",
    Scope.IP_SMS_CODE: "获取验证码太频繁,请稍后再试",
    Scope.WORKER_CONTACT: "查看联系电话太频繁,请稍后再试",
}


@dataclass(frozen=True)
class Limit:
    """At most `requests` per `window_seconds`; 0 requests means no limit."""

    requests: int
    window_seconds: int = WINDOW_SECONDS


class RateLimiter:
    """Checks requests against the limit of their scope, counting in a shared WindowCounter."""

    def __init__(
        self,
        limits: Mapping[Scope, Limit],
        counter: WindowCounter,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._limits = dict(limits)
        self._counter = counter
        self._clock = clock
        self._lock = threading.Lock()
        self._skip_until = 0.0

    @classmethod
    def from_settings(cls, settings: RateLimitSettings, *, broker_url: str) -> RateLimiter:
        """Counters in the broker's Redis when the broker is Redis (shared by replicas), else in this process."""
        limits = {
            Scope.RESIDENT_SUBMIT: Limit(settings.resident_submits_per_minute),
            Scope.RESIDENT_WRITE: Limit(settings.resident_writes_per_minute),
            Scope.IP: Limit(settings.ip_requests_per_minute),
            Scope.IP_LOGIN: Limit(settings.ip_logins_per_minute),
            Scope.WORKER_CONTACT: Limit(settings.contact_reveals_per_hour, HOUR_SECONDS),
        }
        counter: WindowCounter
        if broker_url.startswith(("redis://", "rediss://")):
            client = redis.Redis.from_url(
                broker_url, socket_timeout=REDIS_TIMEOUT_SECONDS, socket_connect_timeout=REDIS_TIMEOUT_SECONDS
            )
            counter = RedisWindowCounter(client)
        else:
            logger.info("rate limits are counted per process: the broker is not Redis")
            counter = MemoryWindowCounter()
        return cls(limits, counter)

    @classmethod
    def unlimited(cls) -> RateLimiter:
        """A limiter that lets everything through (tests of other things, benchmarks)."""
        return cls({}, MemoryWindowCounter())

    def with_limits(self, limits: Mapping[Scope, Limit]) -> RateLimiter:
        """A limiter counting in the same counters (Redis or this process) with `limits` added: a noun's own
        scopes, such as the SMS codes an address may ask for per hour."""
        return RateLimiter({**self._limits, **limits}, self._counter, clock=self._clock)

    def check_once(self, scope: Scope, key: str, item: str) -> None:
        """As `check`, but `item` counts once per window: once admitted for `key`, it passes again without counting
        until a whole window has gone by (a worker calling back the same resident several times)."""
        limit = self._limits.get(scope)
        if limit is None or limit.requests <= 0:
            return
        admitted = f"{scope}:{key}:{item}"
        remembered = self._ask(scope, lambda: self._counter.remembers(admitted, self._clock()))
        if remembered is None or remembered:
            return
        self.check(scope, key)
        # Only once admitted: a refused item must count when it is tried again.
        self._ask(scope, lambda: self._counter.remember(admitted, self._clock(), limit.window_seconds))

    def check(self, scope: Scope, key: str) -> None:
        """Counts one request of `key` in `scope`; raises RateLimited when it is over the limit."""
        limit = self._limits.get(scope)
        if limit is None or limit.requests <= 0:
            return
        now = self._clock()
        index, offset = divmod(now, limit.window_seconds)
        count = self._ask(scope, lambda: self._counter.hit(f"{scope}:{key}", int(index), limit.window_seconds))
        if count is None:
            return
        # Sliding estimate: the previous window weighs as much as it still overlaps the last `window_seconds`.
        overlap = 1.0 - offset / limit.window_seconds
        if count.previous * overlap + count.current <= limit.requests:
            return
        RATE_LIMITED.labels(scope.value).inc()
        raise RateLimited(
            REFUSALS[scope],
            retry_after_seconds=self._retry_after(limit, offset, count.current),
        )

    @staticmethod
    def _retry_after(limit: Limit, offset: float, current: int) -> int:
        # In the next window this one weighs (1 - g) at fraction g; wait until one more request fits.
        until_next = limit.window_seconds - offset
        if current <= 0:
            return max(1, math.ceil(until_next))
        fraction = max(0.0, 1.0 - (limit.requests - 1) / current)
        return max(1, math.ceil(until_next + fraction * limit.window_seconds))

    def _ask(self, scope: Scope, question: Callable[[], Answer]) -> Answer | None:
        """The counters' answer; None (let the request through) while they are unavailable."""
        if self._clock() < self._skip_until:
            return None
        try:
            return question()
        except redis.RedisError as error:
            with self._lock:
                self._skip_until = self._clock() + REDIS_RETRY_SECONDS
            logger.warning(
                "rate-limit counters unavailable; letting requests through",
                extra={"scope": scope.value, "error": str(error)},
            )
            return None
