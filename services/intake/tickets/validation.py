"""The rules a resident's submission must meet; shared by the gRPC and HTTP surfaces."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from linli.errors import AlreadyExists, FieldViolation, InvalidArgument
from services.intake.tickets.models import Ticket

MIN_TEXT_CHARS = 2
MAX_TEXT_CHARS = 2000
MAX_NAME_CHARS = 128
MAX_ATTACHMENTS = 9  # a WeChat image picker allows nine
LATITUDE_RANGE = (-90.0, 90.0)
LONGITUDE_RANGE = (-180.0, 180.0)


@dataclass(frozen=True)
class Submission:
    """A resident's complaint as received, before it becomes a ticket."""

    text: str
    community: str
    resident_id: str
    building: str = ""
    idempotency_key: str = ""
    attachment_urls: tuple[str, ...] = ()
    # Photos uploaded beforehand (POST /v1/uploads) by the same resident, attached when the ticket is stored.
    attachment_ids: tuple[str, ...] = ()
    # Where the problem is (WGS-84 degrees, e.g. from wx.getLocation): both or neither.
    latitude: float | None = None
    longitude: float | None = None
    # Open311 clients may send the spec's 4,000 characters; every other surface keeps the 2,000 of check_text.
    max_text_chars: int = MAX_TEXT_CHARS
    # The resident's optional callback number (联系电话): a mainland mobile or a landline with its area code.
    contact_phone: str = ""


# Directional overrides and isolates make a text read differently from how it is stored (a "Trojan Source" trick).
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
LONE_SURROGATE_MESSAGE = "含有无效的文字编码(孤立的 UTF-16 代理项),请检查输入"


def has_lone_surrogates(value: str) -> bool:
    """True when the string holds a UTF-16 surrogate on its own, which no database or UTF-8 encoder accepts."""
    return any("\ud800" <= ch <= "\udfff" for ch in value)


def visible_characters(value: str) -> int:
    """Characters a reader sees: not spaces, control or format (Cf: zero-width spaces, joiners, marks) ones."""
    return sum(1 for ch in value if not ch.isspace() and unicodedata.category(ch) not in ("Cf", "Cc"))


def has_control_characters(value: str) -> bool:
    """True for control characters other than line breaks and tabs, which residents do type."""
    return any(unicodedata.category(ch) == "Cc" and ch not in "\n\r\t" for ch in value)


def check_text(value: str, field: str, max_chars: int = MAX_TEXT_CHARS) -> list[FieldViolation]:
    """Violations of the free-text rule: 2 to `max_chars` (2,000) characters after trimming, at least 2 of them
    visible, no control characters, directional overrides or lone surrogates."""
    stripped = value.strip()
    if has_lone_surrogates(stripped):
        return [FieldViolation(field, LONE_SURROGATE_MESSAGE)]
    if len(stripped) < MIN_TEXT_CHARS:
        return [FieldViolation(field, f"must have at least {MIN_TEXT_CHARS} characters besides spaces")]
    if any(ch in BIDI_CONTROLS for ch in stripped):
        return [FieldViolation(field, "不能包含文字方向控制符(U+202A–U+202E、U+2066–U+2069)")]
    if visible_characters(stripped) < MIN_TEXT_CHARS:
        return [FieldViolation(field, f"至少需要 {MIN_TEXT_CHARS} 个可见字符(零宽字符、格式字符不算)")]
    if len(stripped) > max_chars:
        return [FieldViolation(field, f"must have at most {max_chars} characters, got {len(stripped)}")]
    if has_control_characters(stripped):
        return [FieldViolation(field, "must not contain control characters")]
    return []


def check_name(value: str, field: str, *, required: bool) -> list[FieldViolation]:
    """Violations of the rule for short identifiers such as community, building or resident id."""
    stripped = value.strip()
    if has_lone_surrogates(stripped):
        return [FieldViolation(field, LONE_SURROGATE_MESSAGE)]
    if required and not stripped:
        return [FieldViolation(field, "is required")]
    if len(stripped) > MAX_NAME_CHARS:
        return [FieldViolation(field, f"must have at most {MAX_NAME_CHARS} characters")]
    if has_control_characters(stripped):
        return [FieldViolation(field, "must not contain control characters")]
    return []


# The communities served, asked at each use: the organisation's table (cached) in service, a fixed set in tests.
CommunityNames = Callable[[], Collection[str]]


def community_names(known: Collection[str] | CommunityNames) -> CommunityNames:
    """`known` as a source asked at each use: a source as it is, a fixed collection as one that always answers it."""
    if callable(known):
        return known
    fixed = frozenset(known)
    return lambda: fixed


def check_community(value: str, known: Collection[str]) -> list[FieldViolation]:
    """Violations of the community rule: required, and one of the communities linli serves."""
    violations = check_name(value, "community", required=True)
    if not violations and value.strip() not in known:
        violations.append(FieldViolation("community", f"unknown community {value.strip()!r}"))
    return violations


def check_location(latitude: float | None, longitude: float | None) -> list[FieldViolation]:
    """Violations of the location rule: both coordinates or neither, each a finite number of degrees in range.

    Fields are named as the APIs nest them (`location.latitude`); half a point cannot be placed on a map.
    """
    if latitude is None and longitude is None:
        return []
    violations = []
    for field, value, (low, high) in (
        ("location.latitude", latitude, LATITUDE_RANGE),
        ("location.longitude", longitude, LONGITUDE_RANGE),
    ):
        if value is None:
            violations.append(FieldViolation(field, "is required when the other coordinate is given"))
        elif not math.isfinite(value):
            violations.append(FieldViolation(field, "must be a finite number of degrees"))
        elif not low <= value <= high:
            violations.append(FieldViolation(field, f"must be between {low:g} and {high:g} degrees"))
    return violations


# A mainland mobile (1, then 3-9, then nine digits) or a landline: a trunk prefix 0, a 2-3 digit area code, a
# 7-8 digit number, a hyphen between them optional. What residents type between digit groups is tolerated: spaces,
# hyphens (138-1234-5678), parentheses round the area code ((021) 6234 5678, also full-width as a Chinese IME types).
# ASCII digits only: \d would also take full-width and other scripts' digits, which no dialler does.
MOBILE_PHONE = re.compile(r"1[3-9]\d{9}", re.ASCII)
LANDLINE_PHONE = re.compile(r"0\d{2,3}-?[2-9]\d{6,7}", re.ASCII)
AREA_CODE_IN_PARENTHESES = re.compile(r"[(（](?P<code>0\d{2,3})[)）]-?", re.ASCII)
CONTACT_PHONE_MESSAGE = "联系电话格式不正确:请填写 11 位手机号(如 13812345678)或带区号的固定电话(如 021-62345678)"


def normalized_phone(value: str) -> str:
    """The number as stored: a mobile as its 11 digits (spaces, hyphens and a +86 or 0086 prefix dropped); anything
    else without spaces, an area code's parentheses made the hyphen after it, and the hyphens after that one dropped
    (`(021) 6234-5678` is stored `021-62345678`). What is no phone stays itself, to be refused."""
    phone = "".join(value.split())
    digits = phone.replace("-", "")
    for prefix in ("+86", "0086", ""):
        if digits.startswith(prefix) and MOBILE_PHONE.fullmatch(digits.removeprefix(prefix)):
            return digits.removeprefix(prefix)
    area = AREA_CODE_IN_PARENTHESES.match(phone)
    if area is not None:
        phone = f"{area['code']}-{phone[area.end() :]}"
    code, hyphen, local = phone.partition("-")
    return f"{code}-{local.replace('-', '')}" if hyphen else phone


def check_contact_phone(value: str) -> list[FieldViolation]:
    """Violations of the callback number rule: empty (none given), a mainland mobile or a landline."""
    phone = normalized_phone(value)
    if not phone or MOBILE_PHONE.fullmatch(phone) or LANDLINE_PHONE.fullmatch(phone):
        return []
    return [FieldViolation("contact_phone", CONTACT_PHONE_MESSAGE)]


def check_attachment_urls(urls: Sequence[str]) -> list[FieldViolation]:
    """Violations of the photo rule: at most nine, each an http(s) URL of at most 2,048 characters."""
    violations = []
    if len(urls) > MAX_ATTACHMENTS:
        violations.append(FieldViolation("attachment_urls", f"at most {MAX_ATTACHMENTS} attachments"))
    for position, url in enumerate(urls):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 2048:
            violations.append(FieldViolation(f"attachment_urls[{position}]", "must be an http(s) URL"))
    return violations


def validate_submission(submission: Submission, *, known_communities: Collection[str]) -> Submission:
    """Returns the submission trimmed, or raises InvalidArgument naming every bad field."""
    violations = [
        *check_text(submission.text, "text", submission.max_text_chars),
        *check_community(submission.community, known_communities),
        *check_name(submission.resident_id, "resident_id", required=True),
        *check_name(submission.building, "building", required=False),
        *check_name(submission.idempotency_key, "idempotency_key", required=False),
        *check_location(submission.latitude, submission.longitude),
        *check_contact_phone(submission.contact_phone),
    ]
    violations.extend(check_attachment_urls(submission.attachment_urls))
    if len(submission.attachment_ids) > MAX_ATTACHMENTS:
        violations.append(FieldViolation("attachment_ids", f"最多 {MAX_ATTACHMENTS} 张照片"))
    if violations:
        raise InvalidArgument.for_fields(violations)
    return Submission(
        text=submission.text.strip(),
        community=submission.community.strip(),
        resident_id=submission.resident_id.strip(),
        building=submission.building.strip(),
        idempotency_key=submission.idempotency_key.strip(),
        attachment_urls=submission.attachment_urls,
        attachment_ids=submission.attachment_ids,
        latitude=submission.latitude,
        longitude=submission.longitude,
        contact_phone=normalized_phone(submission.contact_phone),
    )


def replayed(earlier: Ticket, submission: Submission) -> Ticket:
    """The ticket an earlier submission with the same idempotency key stored; AlreadyExists if it was another
    complaint. Only what identifies the complaint is compared: a retry's building, photos or location do not change
    the ticket the first call stored."""
    same = (earlier.text, earlier.community, earlier.resident_id) == (
        submission.text,
        submission.community,
        submission.resident_id,
    )
    if not same:
        raise AlreadyExists("idempotency_key was already used for a different submission")
    return earlier
