"""The parties a compound's complaints go to by default, with the names residents and workers know."""

from __future__ import annotations

from collections.abc import Collection

PROPERTY_MANAGER = "property_manager"
OWNERS_COMMITTEE = "owners_committee"
STREET_OFFICE = "street_office"

DEFAULT_PARTIES: tuple[str, ...] = (PROPERTY_MANAGER, OWNERS_COMMITTEE, STREET_OFFICE)

DISPLAY_NAMES: dict[str, str] = {
    PROPERTY_MANAGER: "物业",
    OWNERS_COMMITTEE: "业委会",
    STREET_OFFICE: "街道/社区",
}


def display_name(party: str) -> str:
    """The Chinese name of a party, or its id for a party outside the default three."""
    return DISPLAY_NAMES.get(party, party)


def unknown_party_message(party: str, known: Collection[str]) -> str:
    """What to tell someone who named a party the deployment does not have (a typo would lose the ticket)."""
    return f"unknown party {party!r}; known: {', '.join(sorted(known))}"


def is_party_id(value: str) -> bool:
    """A party id is a short snake_case word: any taxonomy may add parties, but ids stay machine-friendly."""
    return 0 < len(value) <= 64 and value.replace("_", "").isascii() and value.replace("_", "").isalnum()
