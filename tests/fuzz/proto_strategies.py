"""Hypothesis strategies for any protobuf message, built from its descriptor, aimed at hostile input.

Strings mix arbitrary Unicode, control and format characters, injection-looking text and very long runs; numbers
hug their type's extremes; enums take unknown values; repeated fields take odd sizes around the services' batch
limits; float vectors come from random bytes (NaN, infinities, subnormals). `hints` mix plausible values into fields
of a given name, so that requests also get past the first check and reach deeper code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from hypothesis import strategies as st

# Text an attacker or a broken client sends: empty, blank, NUL, bidi overrides, injection, markup, path traversal.
NASTY_STRINGS = (
    "",
    " ",
    "\t\n\r",
    "\x00",
    "a\x00b",
    "\x1b[31m",
    "\u202etxt.exe",
    "\ufeff",
    "\u200b\u200b",
    "' OR 1=1 --",
    "'; DROP TABLE tickets; --",
    "<script>alert(1)</script>",
    "{{7*7}}",
    "${jndi:ldap://x}",
    "../../../../etc/passwd",
    "%00%ff",
    "null",
    "NaN",
    "-1",
    "1e309",
    "🏠" * 50,
    "楼道灯坏了",
    "\U0010ffff",
)
# Lengths around the limits: 2,000 characters of text, 128 of a name, 2,048 of a URL; and far beyond.
LONG_LENGTHS = (129, 2001, 2049, 20_000, 100_000)

_INT_RANGES = {
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}
MAX_DEPTH = 3


def hostile_text(*, long: bool = True) -> st.SearchStrategy[str]:
    """Strings a hostile or broken client sends (always valid UTF-8: protobuf refuses anything else).

    Args:
        long: also runs of up to 100,000 characters; off for elements of repeated fields, which would multiply them.
    """
    lengths = LONG_LENGTHS if long else LONG_LENGTHS[:3]
    long_run = st.tuples(st.sampled_from(lengths), st.sampled_from(("楼", "a", " ", "\u0301", "🏠"))).map(
        lambda pair: pair[1] * pair[0]
    )
    return st.one_of(
        st.sampled_from(NASTY_STRINGS),
        st.text(max_size=64),
        st.text(alphabet=st.characters(categories=["Cc", "Cf", "Zl", "Zp", "Zs", "Mn", "Co"]), max_size=32),
        st.text(alphabet=st.characters(min_codepoint=0x10000), max_size=16),
        long_run,
    )


def integers_of(field_type: int) -> st.SearchStrategy[int]:
    """Integers of a protobuf integer type, its extremes often."""
    low, high = _INT_RANGES[field_type]
    edges = sorted(value for value in {low, high, 0, 1, -1, 50, 51, 64, 65, 1000} if low <= value <= high)
    return st.one_of(st.sampled_from(edges), st.integers(low, high))


def floats_of(field_type: int) -> st.SearchStrategy[float]:
    """Floats including NaN and the infinities; 32-bit ones where the field is `float`."""
    width: Literal[32, 64] = 32 if field_type == FieldDescriptor.TYPE_FLOAT else 64
    return st.floats(width=width)


def vectors_from_bytes() -> st.SearchStrategy[list[float]]:
    """Float32 vectors read from random bytes: any bit pattern, NaN and subnormals included, any length."""
    return st.binary(max_size=4 * 600).map(lambda raw: np.frombuffer(raw[: len(raw) // 4 * 4], np.float32).tolist())


def enum_values(field: FieldDescriptor) -> st.SearchStrategy[int]:
    """Known values of an enum and, for open (proto3) enums, numbers it does not define."""
    enum = field.enum_type
    assert enum is not None, field.full_name
    known = st.sampled_from([value.number for value in enum.values])
    if enum.is_closed:
        return known
    return st.one_of(known, st.integers(-(2**31), 2**31 - 1))


def repeated_sizes(*, of_messages: bool) -> st.SearchStrategy[int]:
    """Sizes of a repeated field: usually a few, sometimes around a batch limit (64), scalars sometimes many."""
    around_limit = st.sampled_from((0, 63, 64, 65))
    if of_messages:
        return st.one_of(st.integers(0, 3), around_limit)
    return st.one_of(st.integers(0, 4), around_limit, st.integers(0, 300))


class ProtoStrategies:
    """Builds message strategies from descriptors.

    Args:
        hints: field name → strategy of plausible values, mixed into the hostile ones for fields of that name.
        overrides: full field name (e.g. `linli.v1.Embedding.values`) → strategy used instead of the generic one.
    """

    def __init__(
        self,
        hints: Mapping[str, st.SearchStrategy[Any]] | None = None,
        overrides: Mapping[str, st.SearchStrategy[Any]] | None = None,
    ) -> None:
        self._hints = dict(hints or {})
        self._overrides = dict(overrides or {})

    def message(self, descriptor: Descriptor, depth: int = 0, *, bulky: bool = True) -> st.SearchStrategy[Message]:
        """Messages of `descriptor`: any subset of fields set, at most one member of each oneof.

        Args:
            descriptor: the message type.
            depth: nesting so far; deeper messages come out empty.
            bulky: whether its strings may be very long (not inside repeated fields: sizes would multiply).
        """
        cls = GetMessageClass(descriptor)
        if depth > MAX_DEPTH:
            return st.just(cls())
        plain = {
            field.name: self.field_value(field, depth, bulky=bulky)
            for field in descriptor.fields
            if field.containing_oneof is None or field.containing_oneof.name.startswith("_")  # proto3 `optional`
        }
        oneofs = [
            st.one_of(
                st.none(), *[st.tuples(st.just(f.name), self.field_value(f, depth, bulky=bulky)) for f in oneof.fields]
            )
            for oneof in descriptor.oneofs
            if not oneof.name.startswith("_")
        ]
        return st.builds(_assemble, st.just(cls), st.fixed_dictionaries({}, optional=plain), st.tuples(*oneofs))

    def field_value(self, field: FieldDescriptor, depth: int, *, bulky: bool = True) -> st.SearchStrategy[Any]:
        """Values of one field: a list for a repeated field, a dict for a map."""
        override = self._overrides.get(field.full_name)
        if override is not None:
            return override
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            key = self.scalar(field.message_type.fields_by_name["key"], depth, bulky=False)
            value = self.scalar(field.message_type.fields_by_name["value"], depth, bulky=False)
            return st.dictionaries(key, value, max_size=8)
        if not field.is_repeated:
            return self.scalar(field, depth, bulky=bulky)
        single = self.scalar(field, depth, bulky=False)
        sizes = repeated_sizes(of_messages=field.type == FieldDescriptor.TYPE_MESSAGE)
        return sizes.flatmap(lambda size: st.lists(single, min_size=size, max_size=size))

    def scalar(self, field: FieldDescriptor, depth: int, *, bulky: bool = True) -> st.SearchStrategy[Any]:
        """Values of one element of a field, hints mixed in."""
        generic = self._generic(field, depth, bulky=bulky)
        hint = None if field.type == FieldDescriptor.TYPE_MESSAGE else self._hints.get(field.name)
        return generic if hint is None else st.one_of(hint, generic)

    def _generic(self, field: FieldDescriptor, depth: int, *, bulky: bool) -> st.SearchStrategy[Any]:
        kind = field.type
        if kind == FieldDescriptor.TYPE_MESSAGE:
            assert field.message_type is not None, field.full_name
            return self.message(field.message_type, depth + 1, bulky=bulky)
        if kind == FieldDescriptor.TYPE_STRING:
            return hostile_text(long=bulky)
        if kind == FieldDescriptor.TYPE_BYTES:
            return st.binary(max_size=256)
        if kind == FieldDescriptor.TYPE_BOOL:
            return st.booleans()
        if kind == FieldDescriptor.TYPE_ENUM:
            return enum_values(field)
        if kind in (FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE):
            return floats_of(kind)
        if kind in _INT_RANGES:
            return integers_of(kind)
        raise NotImplementedError(f"no strategy for field {field.full_name} of type {kind}")


def _assemble(cls: type[Message], fields: dict[str, Any], oneofs: tuple[tuple[str, Any] | None, ...]) -> Message:
    chosen = dict(fields)
    chosen.update(member for member in oneofs if member is not None)
    return cls(**chosen)
