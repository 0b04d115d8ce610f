"""Residents as the mini-program behaves: log in once, submit over HTTP, retry with the same Idempotency-Key.

Connection errors, timeouts, 429 and 5xx are retried with jittered exponential backoff until the submission is
answered or `give_up_after` seconds passed; a 4xx is the request's fault and final.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx

REQUEST_TIMEOUT_SECONDS = 30.0
FIRST_BACKOFF_SECONDS = 0.1
MAX_BACKOFF_SECONDS = 2.0


@dataclass(frozen=True)
class Submission:
    """One complaint to submit: who submits it, the key that makes its retries safe, and the JSON body."""

    key: str
    resident_id: str
    body: dict[str, str]


@dataclass
class Receipt:
    """What became of one submission: the ticket id of its 2xx ('' if it never got one) and what went wrong."""

    key: str
    ticket_id: str = ""
    status_code: int = 0
    attempts: int = 0
    started_at: float = 0.0  # wall clock, seconds since the epoch
    seconds: float = 0.0  # from the first attempt to the answer (or giving up), login included
    failures: Counter[str] = field(default_factory=Counter)  # failed attempts by kind, each retried
    error: str = ""  # why it failed for good; '' when accepted


class GaveUp(Exception):
    """Retried until the deadline without an answer."""


def _retrying(request: Callable[[], httpx.Response], receipt: Receipt, deadline: float) -> httpx.Response:
    """The first answer of `request` that is neither a transport error, 429 nor 5xx; counts every failure."""
    attempt = 0
    while True:
        attempt += 1
        receipt.attempts += 1
        try:
            reply = request()
            if reply.status_code < 500 and reply.status_code != 429:
                return reply
            kind = f"HTTP {reply.status_code}"
        except httpx.TransportError as error:
            kind = type(error).__name__
        receipt.failures[kind] += 1
        if time.monotonic() > deadline:
            raise GaveUp(f"gave up after {receipt.attempts} attempts, last: {kind}")
        backoff = min(MAX_BACKOFF_SECONDS, FIRST_BACKOFF_SECONDS * 2 ** min(attempt, 10))
        time.sleep(random.uniform(backoff / 2, backoff))  # jitter, not security


def login(client: httpx.Client, resident_id: str, receipt: Receipt, deadline: float) -> str:
    """A resident's bearer token from the login exchange, with the development verifier's `dev:<openid>` code."""
    reply = _retrying(lambda: client.post("/v1/auth/wechat", json={"code": f"dev:{resident_id}"}), receipt, deadline)
    reply.raise_for_status()
    return str(reply.json()["token"])


class Residents:
    """Every resident's token, each logged in once (tokens live a day: longer than any run)."""

    def __init__(self) -> None:
        self._tokens: dict[str, str] = {}
        self._lock = threading.Lock()

    def headers(self, client: httpx.Client, resident_id: str, receipt: Receipt, deadline: float) -> dict[str, str]:
        """The Authorization header of `resident_id`, logging in first if needed."""
        with self._lock:
            token = self._tokens.get(resident_id)
        if token is None:
            token = login(client, resident_id, receipt, deadline)
            with self._lock:
                self._tokens[resident_id] = token
        return {"Authorization": f"Bearer {token}"}


def submit(client: httpx.Client, residents: Residents, submission: Submission, *, give_up_after: float) -> Receipt:
    """Submits one ticket as its resident, retrying with the same key until answered or `give_up_after` passed."""
    receipt = Receipt(submission.key, started_at=time.time())
    started = time.monotonic()
    deadline = started + give_up_after
    try:
        headers = residents.headers(client, submission.resident_id, receipt, deadline)
        headers["Idempotency-Key"] = submission.key
        reply = _retrying(lambda: client.post("/v1/tickets", json=submission.body, headers=headers), receipt, deadline)
    except (GaveUp, httpx.HTTPStatusError) as error:
        receipt.error = str(error)
        receipt.seconds = time.monotonic() - started
        return receipt
    receipt.seconds = time.monotonic() - started
    receipt.status_code = reply.status_code
    if reply.is_success:
        receipt.ticket_id = str(reply.json()["id"])
    else:
        receipt.error = f"HTTP {reply.status_code}: {reply.text[:200]}"
    return receipt


class Submitter:
    """Submits a stream of complaints from a pool of threads, each with its own keep-alive HTTP connection."""

    def __init__(self, base_url: str, *, concurrency: int, give_up_after: float = 300.0) -> None:
        self._base_url = base_url
        self._give_up_after = give_up_after
        self._residents = Residents()
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="resident")
        self._clients: list[httpx.Client] = []
        self._lock = threading.Lock()

    def _client(self) -> httpx.Client:
        client: httpx.Client | None = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = httpx.Client(base_url=self._base_url, timeout=REQUEST_TIMEOUT_SECONDS)
            with self._lock:
                self._clients.append(client)
        return client

    def send(self, submission: Submission) -> Future[Receipt]:
        """Queues one submission; the future holds its receipt."""
        return self._pool.submit(
            lambda: submit(self._client(), self._residents, submission, give_up_after=self._give_up_after)
        )

    def run(self, submissions: Iterable[Submission], *, rate: float | None = None) -> list[Receipt]:
        """Submits everything, at `rate` per second (open loop: a slow server does not slow the arrivals) or at once."""
        started = time.monotonic()
        futures = []
        for n, submission in enumerate(submissions):
            if rate is not None:
                time.sleep(max(0.0, started + n / rate - time.monotonic()))
            futures.append(self.send(submission))
        return [future.result() for future in futures]

    def close(self) -> None:
        """Waits for what is queued, then closes every connection."""
        self._pool.shutdown(wait=True)
        for client in self._clients:
            client.close()
