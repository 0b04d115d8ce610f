"""Conversions between aware datetimes and protobuf Timestamps, the same way in every service."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from linli.errors import InvalidArgument


def to_timestamp(moment: datetime) -> Timestamp:
    """A Timestamp for an aware datetime (naive ones are refused rather than guessed)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: times in linli are always zone-aware")
    stamp = Timestamp()
    stamp.FromDatetime(moment.astimezone(UTC))
    return stamp


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
