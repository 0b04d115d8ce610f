"""Conversions between aware datetimes and protobuf Timestamps, the same way in every service."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from linli.errors import InvalidArgument

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# Timestamp's range, years 1 to 9999 in UTC.
_MIN_SECONDS = int((datetime(1, 1, 1, tzinfo=UTC) - _EPOCH).total_seconds())
_MAX_SECONDS = int((datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC) - _EPOCH).total_seconds())


def to_timestamp(moment: datetime) -> Timestamp:
    """A Timestamp for an aware datetime (naive ones are refused rather than guessed)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: times in linli are always zone-aware")
    # The same value as Timestamp.FromDatetime, 3 times as fast: its pure-Python time-tuple round trip was a
    # sixth of every search's CPU. A timedelta's days and seconds are floored, so times before 1970 come out right.
    since_epoch = moment - _EPOCH
    seconds = since_epoch.days * 86_400 + since_epoch.seconds
    if not _MIN_SECONDS <= seconds <= _MAX_SECONDS:  # FromDatetime's own error for a time UTC cannot hold
        stamp = Timestamp()
        stamp.FromDatetime(moment.astimezone(UTC))
        return stamp
    return Timestamp(seconds=seconds, nanos=since_epoch.microseconds * 1000)


def optional_timestamp(moment: datetime | None) -> Timestamp | None:
    """A Timestamp, or None for None (an unset message field)."""
    return None if moment is None else to_timestamp(moment)


def from_timestamp(stamp: Timestamp, *, present: bool, field: str = "timestamp") -> datetime | None:
    """An aware UTC datetime for a Timestamp field, None when the field is unset.

    Raises:
        InvalidArgument: naming `field`, when the Timestamp is outside years 1-9999 or its nanos out of range.
    """
    if not present:
        return None
    try:
        return stamp.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError) as error:  # a client's bad value, not a server fault
        raise InvalidArgument.for_field(field, f"is not a valid time: {error}") from error
