"""ISO weeks in China Standard Time (UTC+8, no daylight saving), where the compounds are: how hot topics count."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from linli.errors import InvalidArgument

CHINA_TIME = timezone(timedelta(hours=8), "CST")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
# A report reads weeks before the chosen one and the week after it: years at datetime's edges would overflow.
WEEK_YEARS = range(1970, 9999)


@dataclass(frozen=True, order=True)
class Week:
    """An ISO week, e.g. 2026-W47."""

    year: int
    number: int

    @classmethod
    def parse(cls, value: str) -> Week:
        """Reads `YYYY-Www`; InvalidArgument (field `week`) when it is not an ISO week."""
        found = _WEEK.match(value.strip())
        if found is not None and int(found[1]) in WEEK_YEARS:
            year, number = int(found[1]), int(found[2])
            try:
                date.fromisocalendar(year, number, 1)
            except ValueError:
                pass
            else:
                return cls(year, number)
        raise InvalidArgument.for_field("week", f"must be an ISO week such as 2026-W47, got {value!r}")

    @classmethod
    def containing(cls, moment: datetime) -> Week:
        """The week `moment` falls in, in China Standard Time."""
        year, number, _ = moment.astimezone(CHINA_TIME).isocalendar()
        return cls(year, number)

    @property
    def start(self) -> datetime:
        """Monday 00:00 China Standard Time."""
        monday = date.fromisocalendar(self.year, self.number, 1)
        return datetime(monday.year, monday.month, monday.day, tzinfo=CHINA_TIME)

    @property
    def end(self) -> datetime:
        """The start of the next week (exclusive)."""
        return self.start + timedelta(days=7)

    def shifted(self, weeks: int) -> Week:
        """The week `weeks` later (earlier when negative)."""
        return Week.containing(self.start + timedelta(weeks=weeks))

    def __str__(self) -> str:
        return f"{self.year}-W{self.number:02d}"
