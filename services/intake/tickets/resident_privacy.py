"""What workers see of the resident behind a ticket: a keyed pseudonym (`rp:…`, the audit log's), never the openid
or phone id itself. Workers answer residents through the ticket's conversation and never need the id; showing a
pseudonym instead of recording every read keeps the personal data out of the console altogether. Residents see
their own id; with no pseudonyms configured (tests of other things), ids are shown as stored.
"""

from __future__ import annotations

from collections.abc import Callable

from services.intake.auth.identity import Caller, Resident, Worker, resident_actor

# services.intake.audit.flows.Pseudonyms.of: the resident id -> `rp:<20 hex digits>`.
ResidentAlias = Callable[[str], str]
RESIDENT_ACTOR_PREFIX = resident_actor("")


def resident_id_for(resident_id: str, reader: Caller, alias: ResidentAlias | None) -> str:
    """The ticket's resident id as `reader` may see it."""
    if alias is None or not isinstance(reader, Worker):
        return resident_id
    return alias(resident_id)


def actor_for(actor: str, reader: Caller, alias: ResidentAlias | None) -> str:
    """A history entry's actor as `reader` may see it: a resident's becomes `resident:rp:…` for workers."""
    if alias is None or not isinstance(reader, Worker) or not actor.startswith(RESIDENT_ACTOR_PREFIX):
        return actor
    return resident_actor(alias(actor.removeprefix(RESIDENT_ACTOR_PREFIX)))


def masked_phone(phone: str) -> str:
    """A callback number as workers see it on a ticket: its first three and last four characters (138****5678)."""
    if len(phone) <= 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def contact_phone_for(phone: str, reader: Caller) -> str:
    """The ticket's callback number as `reader` sees it: in full for the resident (theirs), masked for anyone else
    (the full number is read through GET /v1/tickets/{id}/contact, which the audit log records)."""
    return phone if isinstance(reader, Resident) else masked_phone(phone)
