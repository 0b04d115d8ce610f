"""Chinese mainland mobile numbers: validation, the masked form logs may show, and the keyed ids that stand for
a phone in tokens and tables (the raw number is kept nowhere)."""

from __future__ import annotations

import hashlib
import hmac
import re

from linli.errors import InvalidArgument

# 1 + a second digit 3-9 + nine digits: every mainland mobile prefix (13x-19x) in use.
MAINLAND_MOBILE = re.compile(r"1[3-9][0-9]{9}")
# What people type around a number: spaces, dashes, brackets; and the country code in its usual spellings.
_SEPARATORS = re.compile(r"[\s\-()()]")
_COUNTRY_CODE = re.compile(r"^(?:\+86|0086|86)(?=1[3-9][0-9]{9}$)")
MAX_PHONE_INPUT = 32
PHONE_ID_PREFIX = "phone:"
ID_HEX_DIGITS = 32


def normalize_phone(text: str) -> str:
    """The 11-digit number; InvalidArgument (Chinese, for the resident) unless it is a mainland mobile number."""
    compact = _COUNTRY_CODE.sub("", _SEPARATORS.sub("", text[: MAX_PHONE_INPUT + 1]))
    if len(text) > MAX_PHONE_INPUT or not MAINLAND_MOBILE.fullmatch(compact):
        raise InvalidArgument.for_field("phone", "请填写正确的手机号(中国大陆 11 位手机号)")
    return compact


def mask_phone(phone: str) -> str:
    """138****5678: enough for a resident or an operator to recognise the number, not to text it."""
    return f"{phone[:3]}****{phone[-4:]}" if len(phone) >= 8 else "****"


class PhoneIds:
    """Keyed digests of phone numbers: the resident id of an SMS login, and the key of its codes' row."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def digest(self, phone: str) -> str:
        """HMAC-SHA256 of the normalized number, hex, truncated to 128 bits (ample against collisions)."""
        return hmac.new(self._key, phone.encode("ascii"), hashlib.sha256).hexdigest()[:ID_HEX_DIGITS]

    def resident_id(self, phone: str) -> str:
        """`phone:<digest>`: the token subject and tickets' resident id of an SMS login."""
        return PHONE_ID_PREFIX + self.digest(phone)
