"""Conversions between aware datetimes and protobuf Timestamps, the same way in every service."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp


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


def from_timestamp(stamp: Timestamp, *, present: bool) -> datetime | None:
    """An aware UTC datetime for a Timestamp field, None when the field is unset."""
    return stamp.ToDatetime(tzinfo=UTC) if present else None
