"""The JSON request bodies of the tickets API (the shapes it answers with are in api_shapes.py)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from services.intake.tickets.validation import LATITUDE_RANGE, LONGITUDE_RANGE

# Old clients sent who they are in the body; the token says it now, and a different value is refused (403).
DEPRECATED_RESIDENT_ID = "Deprecated: the resident's token names the resident; when set, it must match the token."


class _Body(BaseModel):
    # Unknown fields and wrong types are the client's bug: say so rather than guess.
    model_config = ConfigDict(extra="forbid", strict=True)


class LocationBody(_Body):
    """Where the problem is, in WGS-84 degrees (what wx.getLocation answers)."""

    latitude: float = Field(ge=LATITUDE_RANGE[0], le=LATITUDE_RANGE[1], examples=[31.2304])
    longitude: float = Field(ge=LONGITUDE_RANGE[0], le=LONGITUDE_RANGE[1], examples=[121.4737])


class SubmitTicketBody(_Body):
    """A resident's complaint or question."""

    text: str = Field(description="What happened, 2-2,000 characters.", examples=["楼道灯坏了一个星期了"])
    community: str = Field(description="Residential community, one linli serves.", examples=["恒康居民区"])
    resident_id: str = Field("", description=DEPRECATED_RESIDENT_ID)
    building: str = Field("", description="Building, e.g. 3号楼.")
    attachment_urls: list[str] = Field(default_factory=list, description="http(s) links to photos elsewhere.")
    attachment_ids: list[str] = Field(
        default_factory=list, description="Photos the resident uploaded beforehand (POST /v1/uploads), at most 9."
    )
    idempotency_key: str = Field("", description="Same key, same ticket: makes retries safe.")
    location: LocationBody | None = Field(None, description="Where the problem is, optional: a point finds it faster.")
    contact_phone: str = Field(
        "",
        max_length=32,
        description="联系电话, optional: a mainland mobile (11 digits, 1[3-9]...) or a landline with its area code; "
        "spaces, hyphens and parentheses round the area code are accepted as typed (138-1234-5678, (021) 6234 5678). "
        "Workers see it masked; reading it in full is recorded by the audit log.",
        examples=["13812345678"],
    )


class WorkerBody(_Body):
    """Deprecated fields of old consoles: the bearer token names the worker; when sent, they must match it."""

    worker_id: str = Field("", description="Deprecated; must match the token when set.")
    party: str = Field("", description="Deprecated; must match the token when set.")


class TransferBody(WorkerBody):
    """Hand the ticket to another party."""

    to_party: str = Field(description="Party that should handle it instead.")
    reason: str = Field(description="Why, 2-2,000 characters: it becomes a routing correction.")


class ResolveBody(WorkerBody):
    """Close the ticket with what was done."""

    resolution: str = Field(description="What was done, 2-2,000 characters.")
    attachment_ids: list[str] = Field(
        default_factory=list, description="After-photos the worker uploaded beforehand (POST /v1/uploads)."
    )


class MergeBody(_Body):
    """Fold the ticket into an open one about the same problem."""

    primary_ticket_id: str = Field(description="The open ticket it joins.")


class UnmergeBody(_Body):
    """Separate a merged ticket from its primary."""

    reason: str = Field(description="Why it is a different problem, 2-2,000 characters.")


class DispatchBody(_Body):
    """Route a ticket of the manual queue."""

    to_party: str = Field(description="The party that should handle it.")
    note: str = Field("", description="Why, optional.")


class SplitBody(_Body):
    """Make a further problem of the ticket's message a ticket of its own."""

    text: str = Field(
        description="The passage about that problem (an other_issues excerpt, as edited), 2-2,000 characters.",
        examples=["小区门口总有车停在消防通道上"],
    )


class RateBody(_Body):
    """The resident's rating."""

    resident_id: str = Field("", description=DEPRECATED_RESIDENT_ID)
    score: int = Field(description="1 (not solved: reopens and escalates) to 5 (very satisfied).")
    comment: str = ""


class ReopenBody(_Body):
    """The resident says the problem is back."""

    resident_id: str = Field("", description=DEPRECATED_RESIDENT_ID)
    reason: str = Field(description="What is still wrong, 2-2,000 characters.")
