"""Timestamps on the wire: the fast conversion gives exactly what protobuf's Timestamp.FromDatetime gives."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from linli.proto_time import from_timestamp, optional_timestamp, to_timestamp

SHANGHAI = ZoneInfo("Asia/Shanghai")
MOMENTS = [
    datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC),
    datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC),
    datetime(2024, 5, 6, 7, 8, 9, 1, tzinfo=SHANGHAI),
    datetime(2024, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-9, minutes=-30))),
    datetime(1970, 1, 1, tzinfo=UTC),
    datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=UTC),
    datetime(1900, 3, 1, 12, 0, 0, 250, tzinfo=SHANGHAI),
    datetime(1, 1, 1, tzinfo=UTC),
    datetime(1, 1, 1, 9, 0, 0, 1, tzinfo=SHANGHAI),
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2038, 1, 19, 3, 14, 8, tzinfo=timezone(timedelta(seconds=1234, microseconds=5))),
]


def from_datetime(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment.astimezone(UTC))
    return stamp


@pytest.mark.parametrize("moment", MOMENTS, ids=str)
def test_to_timestamp_equals_from_datetime(moment: datetime) -> None:
    stamp = to_timestamp(moment)
    assert (stamp.seconds, stamp.nanos) == (from_datetime(moment).seconds, from_datetime(moment).nanos)
    assert stamp.SerializeToString() == from_datetime(moment).SerializeToString()
    assert from_timestamp(stamp, present=True) == moment


def test_naive_times_are_refused_and_none_stays_unset() -> None:
    with pytest.raises(ValueError, match="naive"):
        to_timestamp(datetime(2024, 5, 6))
    assert optional_timestamp(None) is None


@pytest.mark.parametrize(
    "moment",
    [
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5))),
        datetime(9999, 12, 31, 23, tzinfo=timezone(-timedelta(hours=5))),
    ],
    ids=str,
)
def test_times_utc_cannot_hold_fail_as_from_datetime_does(moment: datetime) -> None:
    with pytest.raises(OverflowError):
        from_datetime(moment)
    with pytest.raises(OverflowError):
        to_timestamp(moment)


def test_many_random_moments_agree() -> None:
    start = datetime(1, 1, 2, tzinfo=UTC)
    span = (datetime(9999, 12, 30, tzinfo=UTC) - start) // timedelta(microseconds=1)
    rng = random.Random(2024)
    for _ in range(5_000):
        moment = start + timedelta(microseconds=rng.randrange(span))
        zone = timezone(timedelta(minutes=rng.randrange(-14 * 60, 14 * 60 + 1)))
        local = moment.astimezone(zone)
        assert to_timestamp(local) == from_datetime(local), local
