"""Fakes for the parts a unit test does not need for real: the triage queue and a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class RecordingQueue:
    """A triage queue that records what it was asked to queue, and can be made to fail like a dead broker."""

    def __init__(self, *, broken: bool = False) -> None:
        self.queued: list[str] = []
        self.broken = broken

    def enqueue(self, ticket_id: str) -> None:
        if self.broken:
            raise ConnectionError("broker down")
        self.queued.append(ticket_id)


class StepClock:
    """A clock that moves one second each time it is read, so event order is unambiguous."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now
