"""What a dashboard is made of: periods in Shanghai time, a scope of communities, and the figures a street office is
judged by (docs/dashboards.md defines each one; the ticket columns they read are in tickets/models.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

# Weeks and months are Shanghai's: a complaint at 23:30 on Sunday belongs to that week, not to Monday's.
SHANGHAI = ZoneInfo("Asia/Shanghai")
# The longest range one dashboard or export covers: a year and a day (a leap year, or a year from any weekday).
MAX_RANGE_DAYS = 367
# How long a party has to accept (签收) a ticket after it was received: the response rate's deadline.
DEFAULT_ACCEPT_WINDOW = timedelta(hours=2)
# A rating at or above this is "satisfied" (满意): 4 and 5 of the resident's 1-5 (tickets/flows.py `rate`).
SATISFIED_SCORE = 4

# The communities of a street, by the street's code (the organisation's tables; none known unless wired).
StreetCommunities = Callable[[str], frozenset[str]]


def no_known_streets(_street_code: str) -> frozenset[str]:
    """The default street resolver: no street's communities are known until the organisation is wired in."""
    return frozenset()


class PeriodKind(StrEnum):
    """How a dashboard's series is bucketed."""

    WEEK = "week"  # ISO week, Monday 00:00 Shanghai
    MONTH = "month"  # calendar month, the 1st 00:00 Shanghai


@dataclass(frozen=True)
class Period:
    """Whole days [start, end) of Shanghai's calendar."""

    start: date
    end: date

    @property
    def start_utc(self) -> datetime:
        """Midnight Shanghai of the first day, in UTC."""
        return datetime.combine(self.start, time(), SHANGHAI).astimezone(UTC)

    @property
    def end_utc(self) -> datetime:
        """Midnight Shanghai after the last day, in UTC."""
        return datetime.combine(self.end, time(), SHANGHAI).astimezone(UTC)


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def periods_covering(kind: PeriodKind, first: date, last: date) -> tuple[Period, ...]:
    """The whole weeks or months that hold any day from `first` to `last` (both included), oldest first."""
    start = first - timedelta(days=first.weekday()) if kind is PeriodKind.WEEK else first.replace(day=1)
    periods = []
    while start <= last:
        end = start + timedelta(days=7) if kind is PeriodKind.WEEK else _next_month(start)
        periods.append(Period(start, end))
        start = end
    return tuple(periods)


@dataclass(frozen=True)
class Ratio:
    """A rate with what it was computed from, so that a reader can check it; `rate` is None when nothing counted."""

    numerator: int
    denominator: int

    @property
    def rate(self) -> float | None:
        """numerator / denominator, or None over zero."""
        return self.numerator / self.denominator if self.denominator else None


@dataclass(frozen=True)
class Figures:
    """The figures of the tickets received in one period (a cohort: later events count for the period the ticket
    was received in)."""

    period: Period
    received: int
    response: Ratio  # 响应率: accepted within the window / needed acceptance
    resolution: Ratio  # 解决率: resolved or closed now / received
    satisfaction: Ratio  # 满意率: rated 4 or 5 / rated
    on_time: Ratio  # 按时办结率: resolution met its deadline / resolved with a deadline
    reopen: Ratio  # 重办率: reopened at least once / ever resolved
    transfer: Ratio  # 转派率: transferred at least once / received
    median_accept_seconds: float | None
    median_resolve_seconds: float | None


def empty_figures(period: Period) -> Figures:
    """The figures of a period without any ticket."""
    nothing = Ratio(0, 0)
    return Figures(period, 0, nothing, nothing, nothing, nothing, nothing, nothing, None, None)


@dataclass(frozen=True)
class DashboardQuery:
    """What to count: the communities (None: every community), the party ('' any), the periods, the acceptance
    window and the moment "now" (a ticket whose window has not ended yet needs no acceptance yet)."""

    communities: tuple[str, ...] | None
    party: str
    periods: tuple[Period, ...]
    accept_window: timedelta
    now: datetime


@dataclass(frozen=True)
class Dashboard:
    """A scope's series of figures."""

    scope: str
    party: str
    kind: PeriodKind
    accept_window: timedelta
    series: tuple[Figures, ...]
