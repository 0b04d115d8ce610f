"""The ticket events linli tells the outside world about, and the exact JSON body a webhook receiver gets."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from linli.errors import InvalidArgument

# The kinds the ticket lifecycle emits today; others may follow, so a new kind is accepted, not rejected.
KNOWN_KINDS: frozenset[str] = frozenset(
    {
        "routed",
        "needs_manual",
        "accepted",
        "transferred",
        "escalated",
        "resolved",
        "reopened",
        # The conversation (services/intake/messages): a worker wrote to the resident, the resident to the party.
        "worker_message",
        "resident_message",
    }
)
_KIND_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,63}")


def is_kind(value: str) -> bool:
    """An event kind is a short snake_case word, like the ticket statuses it reports."""
    return _KIND_PATTERN.fullmatch(value) is not None


@dataclass(frozen=True)
class OutboundEvent:
    """One committed change of a ticket, as the notifier publishes it.

    Attributes:
        kind: What happened: "routed", "needs_manual", "accepted", "transferred", "escalated", "resolved",
            "reopened" or a later kind (snake_case).
        ticket_id: The ticket that changed.
        party: The party that holds the ticket after the change ("" while nobody does).
        community: The ticket's community.
        status: The ticket's status after the change.
        occurred_at: When the change was committed; must be timezone-aware, stored in UTC.
        payload: JSON-serialisable details: note, from/to party, escalation level, SLA deadline...
        resident_openid: The resident's WeChat openid when the resident should get a subscription message; it is
            never put in the webhook body, since webhook receivers are other organisations.
    """

    kind: str
    ticket_id: str
    party: str
    community: str
    status: str
    occurred_at: datetime
    payload: dict[str, object]
    resident_openid: str | None = None

    def __post_init__(self) -> None:
        # Checked here so the lifecycle code that builds a bad event fails loudly, while publish() never raises.
        if not is_kind(self.kind):
            raise InvalidArgument.for_field("kind", f"must be a snake_case word, got {self.kind!r}")
        if not self.ticket_id:
            raise InvalidArgument.for_field("ticket_id", "must not be empty")
        if self.occurred_at.tzinfo is None or self.occurred_at.utcoffset() is None:
            raise InvalidArgument.for_field("occurred_at", "must be timezone-aware (UTC)")
        object.__setattr__(self, "occurred_at", self.occurred_at.astimezone(UTC))
        try:
            json.dumps(self.payload, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise InvalidArgument.for_field("payload", f"must be JSON-serialisable: {error}") from error


def webhook_body(event: OutboundEvent, event_id: str) -> str:
    """The JSON text sent (and signed) for `event`; built once so every retry sends the same bytes."""
    document = {
        "id": event_id,
        "kind": event.kind,
        "ticket_id": event.ticket_id,
        "party": event.party,
        "community": event.community,
        "status": event.status,
        "occurred_at": event.occurred_at.isoformat(),
        "payload": event.payload,
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
