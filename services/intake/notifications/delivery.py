"""One delivery attempt, what its outcome means for retrying, and the retry policy shared by Celery and inline use."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

import httpx
from pydantic import SecretStr

from services.intake.notifications.signing import sign

logger = logging.getLogger(__name__)

# Capped below the Redis visibility timeout of the intake's Celery app: a task waiting longer for its retry would
# be handed to a second worker as well, delivering twice.
MAX_BACKOFF_SECONDS = 120.0
# A client error is ours to fix, except a timeout or a rate limit: those pass if we wait.
RETRYABLE_CLIENT_STATUSES = frozenset({408, 429})
USER_AGENT = "linli-notify/1"


class Outcome(StrEnum):
    """What one attempt means for the delivery."""

    DELIVERED = "delivered"
    RETRY = "retry"
    FAILED = "failed"


@dataclass(frozen=True)
class AttemptResult:
    """The outcome of one attempt, why, and how long the receiver asked us to wait (Retry-After), if it did."""

    outcome: Outcome
    detail: str
    retry_after_seconds: float | None = None


@dataclass(frozen=True)
class RetryPolicy:
    """At most `max_attempts` attempts, spaced by exponential backoff with jitter."""

    max_attempts: int
    backoff_base_seconds: float
    max_backoff_seconds: float = MAX_BACKOFF_SECONDS

    def should_retry(self, result: AttemptResult, attempts_made: int) -> bool:
        """Whether to try again after `attempts_made` attempts, the last of which gave `result`."""
        return result.outcome is Outcome.RETRY and attempts_made < self.max_attempts

    def delay_seconds(self, attempts_made: int, result: AttemptResult) -> float:
        """Wait before the next attempt: half the doubled delay fixed, half random, or longer if the receiver asked.

        The random half spreads the retries of many deliveries that failed together (a receiver's outage), so they
        do not all come back at the same second; the fixed half keeps the backoff really exponential.
        """
        ceiling = min(self.max_backoff_seconds, self.backoff_base_seconds * 2.0 ** (attempts_made - 1))
        delay = ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - spreading load, not security
        if result.retry_after_seconds is not None:
            delay = max(delay, min(result.retry_after_seconds, self.max_backoff_seconds))
        return delay


@dataclass(frozen=True)
class WebhookDelivery:
    """One event for one target, as queued: plain fields, so it travels as JSON through the broker."""

    event_id: str
    kind: str
    url: str
    target: str  # the URL safe to log
    body: str

    def to_message(self) -> dict[str, str]:
        """The task argument carrying this delivery."""
        return asdict(self)

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> WebhookDelivery:
        """The delivery a task argument carries."""
        return cls(**{name: str(message[name]) for name in ("event_id", "kind", "url", "target", "body")})


@dataclass(frozen=True)
class ResidentMessage:
    """One subscription message to one resident, as queued."""

    event_id: str
    kind: str
    ticket_id: str
    resident_openid: str
    template_id: str
    data: dict[str, str]

    def to_message(self) -> dict[str, Any]:
        """The task argument carrying this message."""
        return asdict(self)

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> ResidentMessage:
        """The message a task argument carries."""
        names = ("event_id", "kind", "ticket_id", "resident_openid", "template_id")
        fields = {name: str(message[name]) for name in names}
        return cls(**fields, data={str(k): str(v) for k, v in dict(message["data"]).items()})


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    # Only the seconds form: an HTTP-date from a receiver's clock is not worth trusting over our own backoff.
    return float(value) if value.isdigit() else None


def classify_response(response: httpx.Response) -> AttemptResult:
    """2xx is delivered; 408, 429 and 5xx are worth retrying; any other status will not change by retrying."""
    status = response.status_code
    detail = f"HTTP {status}"
    if 200 <= status < 300:
        return AttemptResult(Outcome.DELIVERED, detail)
    if status >= 500 or status in RETRYABLE_CLIENT_STATUSES:
        return AttemptResult(Outcome.RETRY, detail, _retry_after(response))
    return AttemptResult(Outcome.FAILED, detail)


def post_webhook(
    client: httpx.Client, delivery: WebhookDelivery, secret: SecretStr, *, clock: Callable[[], float] = time.time
) -> AttemptResult:
    """POSTs the delivery once, signed with a fresh timestamp (a retry an hour later must not look stale)."""
    timestamp = str(int(clock()))
    body = delivery.body.encode()
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        "X-Linli-Event": delivery.kind,
        "X-Linli-Delivery": delivery.event_id,
        "X-Linli-Timestamp": timestamp,
        "X-Linli-Signature": sign(secret, timestamp, body),
    }
    try:
        response = client.post(delivery.url, content=body, headers=headers)
    except httpx.TransportError as error:  # refused, reset, DNS, timeout: the receiver may be back soon
        return AttemptResult(Outcome.RETRY, f"{type(error).__name__}: {error}")
    return classify_response(response)


def log_attempt(result: AttemptResult, attempts_made: int, *, will_retry: bool, context: dict[str, object]) -> None:
    """Logs an attempt that did not deliver: a warning while retrying, an error when giving up."""
    extra = {**context, "attempts": attempts_made, "detail": result.detail}
    if will_retry:
        logger.warning("notification attempt %d failed (%s), retrying", attempts_made, result.detail, extra=extra)
    else:
        logger.error("notification gave up after %d attempt(s): %s", attempts_made, result.detail, extra=extra)


def run_with_retries(
    attempt: Callable[[], AttemptResult],
    policy: RetryPolicy,
    *,
    context: dict[str, object],
    sleep: Callable[[float], None] = time.sleep,
) -> AttemptResult:
    """Runs `attempt` in this thread until it delivers, fails for good, or runs out of attempts; returns the last."""
    attempts_made = 0
    while True:
        result = attempt()
        attempts_made += 1
        if result.outcome is Outcome.DELIVERED:
            logger.info("notification delivered", extra={**context, "attempts": attempts_made})
            return result
        will_retry = policy.should_retry(result, attempts_made)
        log_attempt(result, attempts_made, will_retry=will_retry, context=context)
        if not will_retry:
            return result
        sleep(policy.delay_seconds(attempts_made, result))
