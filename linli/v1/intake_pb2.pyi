import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from linli.v1 import routing_pb2 as _routing_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TicketStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TICKET_STATUS_UNSPECIFIED: _ClassVar[TicketStatus]
    TICKET_STATUS_RECEIVED: _ClassVar[TicketStatus]
    TICKET_STATUS_ROUTED: _ClassVar[TicketStatus]
    TICKET_STATUS_NEEDS_MANUAL: _ClassVar[TicketStatus]
    TICKET_STATUS_ACCEPTED: _ClassVar[TicketStatus]
    TICKET_STATUS_IN_PROGRESS: _ClassVar[TicketStatus]
    TICKET_STATUS_RESOLVED: _ClassVar[TicketStatus]
    TICKET_STATUS_CLOSED: _ClassVar[TicketStatus]
    TICKET_STATUS_REOPENED: _ClassVar[TicketStatus]
    TICKET_STATUS_TRANSFERRED: _ClassVar[TicketStatus]
    TICKET_STATUS_MERGED: _ClassVar[TicketStatus]
    TICKET_STATUS_WAITING_RESIDENT: _ClassVar[TicketStatus]

class MessageAuthor(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MESSAGE_AUTHOR_UNSPECIFIED: _ClassVar[MessageAuthor]
    MESSAGE_AUTHOR_RESIDENT: _ClassVar[MessageAuthor]
    MESSAGE_AUTHOR_WORKER: _ClassVar[MessageAuthor]
TICKET_STATUS_UNSPECIFIED: TicketStatus
TICKET_STATUS_RECEIVED: TicketStatus
TICKET_STATUS_ROUTED: TicketStatus
TICKET_STATUS_NEEDS_MANUAL: TicketStatus
TICKET_STATUS_ACCEPTED: TicketStatus
TICKET_STATUS_IN_PROGRESS: TicketStatus
TICKET_STATUS_RESOLVED: TicketStatus
TICKET_STATUS_CLOSED: TicketStatus
TICKET_STATUS_REOPENED: TicketStatus
TICKET_STATUS_TRANSFERRED: TicketStatus
TICKET_STATUS_MERGED: TicketStatus
TICKET_STATUS_WAITING_RESIDENT: TicketStatus
MESSAGE_AUTHOR_UNSPECIFIED: MessageAuthor
MESSAGE_AUTHOR_RESIDENT: MessageAuthor
MESSAGE_AUTHOR_WORKER: MessageAuthor

class TicketEvent(_message.Message):
    __slots__ = ("kind", "actor", "note", "at", "from_party", "to_party", "party")
    KIND_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    FROM_PARTY_FIELD_NUMBER: _ClassVar[int]
    TO_PARTY_FIELD_NUMBER: _ClassVar[int]
    PARTY_FIELD_NUMBER: _ClassVar[int]
    kind: str
    actor: str
    note: str
    at: _timestamp_pb2.Timestamp
    from_party: str
    to_party: str
    party: str
    def __init__(self, kind: _Optional[str] = ..., actor: _Optional[str] = ..., note: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., from_party: _Optional[str] = ..., to_party: _Optional[str] = ..., party: _Optional[str] = ...) -> None: ...

class GeoPoint(_message.Message):
    __slots__ = ("latitude", "longitude")
    LATITUDE_FIELD_NUMBER: _ClassVar[int]
    LONGITUDE_FIELD_NUMBER: _ClassVar[int]
    latitude: float
    longitude: float
    def __init__(self, latitude: _Optional[float] = ..., longitude: _Optional[float] = ...) -> None: ...

class Ticket(_message.Message):
    __slots__ = ("id", "text", "community", "building", "resident_id", "status", "party", "confidence", "routing", "attachment_urls", "rating", "resolution", "created_at", "updated_at", "events", "priority", "urgency", "urgency_notice", "escalation_level", "sla_due_at", "reporter_count", "duplicate_notice", "primary_ticket_id", "primary_status", "duplicate_ticket_ids", "assignee_worker_id", "resolved_at", "catalog_entry", "location", "split_from_ticket_id", "split_ticket_ids", "waiting_since", "unread_resident_messages", "sla_paused_seconds", "contact_phone", "has_contact_phone")
    ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    COMMUNITY_FIELD_NUMBER: _ClassVar[int]
    BUILDING_FIELD_NUMBER: _ClassVar[int]
    RESIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PARTY_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    ROUTING_FIELD_NUMBER: _ClassVar[int]
    ATTACHMENT_URLS_FIELD_NUMBER: _ClassVar[int]
    RATING_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    URGENCY_FIELD_NUMBER: _ClassVar[int]
    URGENCY_NOTICE_FIELD_NUMBER: _ClassVar[int]
    ESCALATION_LEVEL_FIELD_NUMBER: _ClassVar[int]
    SLA_DUE_AT_FIELD_NUMBER: _ClassVar[int]
    REPORTER_COUNT_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_NOTICE_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_STATUS_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_TICKET_IDS_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEE_WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_AT_FIELD_NUMBER: _ClassVar[int]
    CATALOG_ENTRY_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    SPLIT_FROM_TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    SPLIT_TICKET_IDS_FIELD_NUMBER: _ClassVar[int]
    WAITING_SINCE_FIELD_NUMBER: _ClassVar[int]
    UNREAD_RESIDENT_MESSAGES_FIELD_NUMBER: _ClassVar[int]
    SLA_PAUSED_SECONDS_FIELD_NUMBER: _ClassVar[int]
    CONTACT_PHONE_FIELD_NUMBER: _ClassVar[int]
    HAS_CONTACT_PHONE_FIELD_NUMBER: _ClassVar[int]
    id: str
    text: str
    community: str
    building: str
    resident_id: str
    status: TicketStatus
    party: str
    confidence: float
    routing: _routing_pb2.RoutingDecision
    attachment_urls: _containers.RepeatedScalarFieldContainer[str]
    rating: int
    resolution: str
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    events: _containers.RepeatedCompositeFieldContainer[TicketEvent]
    priority: int
    urgency: _routing_pb2.Urgency
    urgency_notice: str
    escalation_level: _routing_pb2.EscalationLevel
    sla_due_at: _timestamp_pb2.Timestamp
    reporter_count: int
    duplicate_notice: str
    primary_ticket_id: str
    primary_status: TicketStatus
    duplicate_ticket_ids: _containers.RepeatedScalarFieldContainer[str]
    assignee_worker_id: str
    resolved_at: _timestamp_pb2.Timestamp
    catalog_entry: str
    location: GeoPoint
    split_from_ticket_id: str
    split_ticket_ids: _containers.RepeatedScalarFieldContainer[str]
    waiting_since: _timestamp_pb2.Timestamp
    unread_resident_messages: int
    sla_paused_seconds: int
    contact_phone: str
    has_contact_phone: bool
    def __init__(self, id: _Optional[str] = ..., text: _Optional[str] = ..., community: _Optional[str] = ..., building: _Optional[str] = ..., resident_id: _Optional[str] = ..., status: _Optional[_Union[TicketStatus, str]] = ..., party: _Optional[str] = ..., confidence: _Optional[float] = ..., routing: _Optional[_Union[_routing_pb2.RoutingDecision, _Mapping]] = ..., attachment_urls: _Optional[_Iterable[str]] = ..., rating: _Optional[int] = ..., resolution: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., events: _Optional[_Iterable[_Union[TicketEvent, _Mapping]]] = ..., priority: _Optional[int] = ..., urgency: _Optional[_Union[_routing_pb2.Urgency, str]] = ..., urgency_notice: _Optional[str] = ..., escalation_level: _Optional[_Union[_routing_pb2.EscalationLevel, str]] = ..., sla_due_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reporter_count: _Optional[int] = ..., duplicate_notice: _Optional[str] = ..., primary_ticket_id: _Optional[str] = ..., primary_status: _Optional[_Union[TicketStatus, str]] = ..., duplicate_ticket_ids: _Optional[_Iterable[str]] = ..., assignee_worker_id: _Optional[str] = ..., resolved_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., catalog_entry: _Optional[str] = ..., location: _Optional[_Union[GeoPoint, _Mapping]] = ..., split_from_ticket_id: _Optional[str] = ..., split_ticket_ids: _Optional[_Iterable[str]] = ..., waiting_since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., unread_resident_messages: _Optional[int] = ..., sla_paused_seconds: _Optional[int] = ..., contact_phone: _Optional[str] = ..., has_contact_phone: _Optional[bool] = ...) -> None: ...

class SubmitTicketRequest(_message.Message):
    __slots__ = ("text", "community", "building", "resident_id", "idempotency_key", "attachment_urls", "location", "attachment_ids", "contact_phone")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    COMMUNITY_FIELD_NUMBER: _ClassVar[int]
    BUILDING_FIELD_NUMBER: _ClassVar[int]
    RESIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    ATTACHMENT_URLS_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    ATTACHMENT_IDS_FIELD_NUMBER: _ClassVar[int]
    CONTACT_PHONE_FIELD_NUMBER: _ClassVar[int]
    text: str
    community: str
    building: str
    resident_id: str
    idempotency_key: str
    attachment_urls: _containers.RepeatedScalarFieldContainer[str]
    location: GeoPoint
    attachment_ids: _containers.RepeatedScalarFieldContainer[str]
    contact_phone: str
    def __init__(self, text: _Optional[str] = ..., community: _Optional[str] = ..., building: _Optional[str] = ..., resident_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., attachment_urls: _Optional[_Iterable[str]] = ..., location: _Optional[_Union[GeoPoint, _Mapping]] = ..., attachment_ids: _Optional[_Iterable[str]] = ..., contact_phone: _Optional[str] = ...) -> None: ...

class SubmitTicketResponse(_message.Message):
    __slots__ = ("ticket", "created")
    TICKET_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    ticket: Ticket
    created: bool
    def __init__(self, ticket: _Optional[_Union[Ticket, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class GetTicketRequest(_message.Message):
    __slots__ = ("ticket_id",)
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    ticket_id: str
    def __init__(self, ticket_id: _Optional[str] = ...) -> None: ...

class GetTicketResponse(_message.Message):
    __slots__ = ("ticket",)
    TICKET_FIELD_NUMBER: _ClassVar[int]
    ticket: Ticket
    def __init__(self, ticket: _Optional[_Union[Ticket, _Mapping]] = ...) -> None: ...

class ListTicketsRequest(_message.Message):
    __slots__ = ("community", "party", "status", "resident_id", "page_size", "page_token", "escalation_level", "primary_ticket_id")
    COMMUNITY_FIELD_NUMBER: _ClassVar[int]
    PARTY_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    RESIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ESCALATION_LEVEL_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    community: str
    party: str
    status: TicketStatus
    resident_id: str
    page_size: int
    page_token: str
    escalation_level: _routing_pb2.EscalationLevel
    primary_ticket_id: str
    def __init__(self, community: _Optional[str] = ..., party: _Optional[str] = ..., status: _Optional[_Union[TicketStatus, str]] = ..., resident_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., escalation_level: _Optional[_Union[_routing_pb2.EscalationLevel, str]] = ..., primary_ticket_id: _Optional[str] = ...) -> None: ...

class ListTicketsResponse(_message.Message):
    __slots__ = ("tickets", "next_page_token")
    TICKETS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tickets: _containers.RepeatedCompositeFieldContainer[Ticket]
    next_page_token: str
    def __init__(self, tickets: _Optional[_Iterable[_Union[Ticket, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class AcceptTicketRequest(_message.Message):
    __slots__ = ("ticket_id", "worker_id", "party")
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    PARTY_FIELD_NUMBER: _ClassVar[int]
    ticket_id: str
    worker_id: str
    party: str
    def __init__(self, ticket_id: _Optional[str] = ..., worker_id: _Optional[str] = ..., party: _Optional[str] = ...) -> None: ...

class AcceptTicketResponse(_message.Message):
    __slots__ = ("ticket",)
    TICKET_FIELD_NUMBER: _ClassVar[int]
    ticket: Ticket
    def __init__(self, ticket: _Optional[_Union[Ticket, _Mapping]] = ...) -> None: ...

class TransferTicketRequest(_message.Message):
    __slots__ = ("ticket_id", "worker_id", "party", "to_party", "reason")
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    PARTY_FIELD_NUMBER: _ClassVar[int]
    TO_PARTY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ticket_id: str
    worker_id: str
    party: str
    to_party: str
    reason: str
    def __init__(self, ticket_id: _Optional[str] = ..., worker_id: _Optional[str] = ..., party: _Optional[str] = ..., to_party: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class TransferTicketResponse(_message.Message):
    __slots__ = ("ticket",)
    TICKET_FIELD_NUMBER: _ClassVar[int]
    ticket: Ticket
    def __init__(self, ticket: _Optional[_Union[Ticket, _Mapping]] = ...) -> None: ...

class ResolveTicketRequest(_message.Message):
    __slots__ = ("ticket_id", "worker_id", "party", "resolution", "attachment_ids")
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    PARTY_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    ATTACHMENT_IDS_FIELD_NUMBER: _ClassVar[int]
    ticket_id: str
    worker_id: str
    party: str
    resolution: str
    attachment_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, ticket_id: _Optional[str] = ..., worker_id: _Optional[str] = ..., party: _Optional[str] = ..., resolution: _Optional[str] = ..., attachment_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ResolveTicketResponse(_message.Message):
    __slots__ = ("ticket",)
    TICKET_FIELD_NUMBER: _ClassVar[int]
    ticket: Ticket
    def __init__(self, ticket: _Optional[_Union[Ticket, _Mapping]] = ...) -> None: ...

class RateTicketRequest(_message.Message):
    __slots__ = ("ticket_id", "resident_id", "score", "comment")
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    RESIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    ticket_id: str
    resident_id: str
    score: int
    comment: str
    def __init__(self, ticket_id: _Optional[str] = ..., resident_id: _Optional[str] = ..., score: _Optional[int] = ..., comment: _Optional[str] = ...) -> None: ...

class RateTicketResponse(_message.Message):
    __slots__ = ("ticket",)
    TICKET_FIELD_NUMBER: _ClassVar[int]
    ticket: Ticket
    def __init__(self, ticket: _Optional[_Union[Ticket, _Mapping]] = ...) -> None: ...

class StartTicketRequest(_message.Message):
    __slots__ = ("ticket_id",)
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    ticket_id: str
    def __init__(self, ticket_id: _Optional[str] = ...) -> None: ...

class StartTicketResponse(_message.Message):
    __slots__ = ("ticket",)
    TICKET_FIELD_NUMBER: _ClassVar[int]
    ticket: Ticket
    def __init__(self, ticket: _Optional[_Union[Ticket, _Mapping]] = ...) -> None: ...

class ReopenTicketRequest(_message.Message):
    __slots__ = ("ticket_id", "resident_id", "reason")
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    RESIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ticket_id: str
    resident_id: str
    reason: str
    def __init__(self, ticket_id: _Optional[str] = ..., resident_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ReopenTicketResponse(_message.Message):
    __slots__ = ("ticket",)
    TICKET_FIELD_NUMBER: _ClassVar[int]
    ticket: Ticket
    def __init__(self, ticket: _Optional[_Union[Ticket, _Mapping]] = ...) -> None: ...

class MergeTicketRequest(_message.Message):
    __slots__ = ("ticket_id", "primary_ticket_id")
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    ticket_id: str
    primary_ticket_id: str
    def __init__(self, ticket_id: _Optional[str] = ..., primary_ticket_id: _Optional[str] = ...) -> None: ...

class MergeTicketResponse(_message.Message):
    __slots__ = ("ticket", "primary")
    TICKET_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_FIELD_NUMBER: _ClassVar[int]
    ticket: Ticket
    primary: Ticket
    def __init__(self, ticket: _Optional[_Union[Ticket, _Mapping]] = ..., primary: _Optional[_Union[Ticket, _Mapping]] = ...) -> None: ...

class UnmergeTicketRequest(_message.Message):
    __slots__ = ("ticket_id", "reason")
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ticket_id: str
    reason: str
    def __init__(self, ticket_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class UnmergeTicketResponse(_message.Message):
    __slots__ = ("ticket",)
    TICKET_FIELD_NUMBER: _ClassVar[int]
    ticket: Ticket
    def __init__(self, ticket: _Optional[_Union[Ticket, _Mapping]] = ...) -> None: ...

class DispatchTicketRequest(_message.Message):
    __slots__ = ("ticket_id", "to_party", "note")
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    TO_PARTY_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    ticket_id: str
    to_party: str
    note: str
    def __init__(self, ticket_id: _Optional[str] = ..., to_party: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class DispatchTicketResponse(_message.Message):
    __slots__ = ("ticket",)
    TICKET_FIELD_NUMBER: _ClassVar[int]
    ticket: Ticket
    def __init__(self, ticket: _Optional[_Union[Ticket, _Mapping]] = ...) -> None: ...

class SplitTicketRequest(_message.Message):
    __slots__ = ("ticket_id", "text")
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    ticket_id: str
    text: str
    def __init__(self, ticket_id: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class SplitTicketResponse(_message.Message):
    __slots__ = ("ticket",)
    TICKET_FIELD_NUMBER: _ClassVar[int]
    ticket: Ticket
    def __init__(self, ticket: _Optional[_Union[Ticket, _Mapping]] = ...) -> None: ...

class TicketMessage(_message.Message):
    __slots__ = ("id", "ticket_id", "author", "party", "text", "internal", "asks_resident", "attachment_urls", "created_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    PARTY_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    INTERNAL_FIELD_NUMBER: _ClassVar[int]
    ASKS_RESIDENT_FIELD_NUMBER: _ClassVar[int]
    ATTACHMENT_URLS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    ticket_id: str
    author: MessageAuthor
    party: str
    text: str
    internal: bool
    asks_resident: bool
    attachment_urls: _containers.RepeatedScalarFieldContainer[str]
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., ticket_id: _Optional[str] = ..., author: _Optional[_Union[MessageAuthor, str]] = ..., party: _Optional[str] = ..., text: _Optional[str] = ..., internal: _Optional[bool] = ..., asks_resident: _Optional[bool] = ..., attachment_urls: _Optional[_Iterable[str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListTicketMessagesRequest(_message.Message):
    __slots__ = ("ticket_id",)
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    ticket_id: str
    def __init__(self, ticket_id: _Optional[str] = ...) -> None: ...

class ListTicketMessagesResponse(_message.Message):
    __slots__ = ("messages",)
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[TicketMessage]
    def __init__(self, messages: _Optional[_Iterable[_Union[TicketMessage, _Mapping]]] = ...) -> None: ...

class PostTicketMessageRequest(_message.Message):
    __slots__ = ("ticket_id", "text", "internal", "asks_resident", "attachment_urls")
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    INTERNAL_FIELD_NUMBER: _ClassVar[int]
    ASKS_RESIDENT_FIELD_NUMBER: _ClassVar[int]
    ATTACHMENT_URLS_FIELD_NUMBER: _ClassVar[int]
    ticket_id: str
    text: str
    internal: bool
    asks_resident: bool
    attachment_urls: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, ticket_id: _Optional[str] = ..., text: _Optional[str] = ..., internal: _Optional[bool] = ..., asks_resident: _Optional[bool] = ..., attachment_urls: _Optional[_Iterable[str]] = ...) -> None: ...

class PostTicketMessageResponse(_message.Message):
    __slots__ = ("message", "ticket")
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TICKET_FIELD_NUMBER: _ClassVar[int]
    message: TicketMessage
    ticket: Ticket
    def __init__(self, message: _Optional[_Union[TicketMessage, _Mapping]] = ..., ticket: _Optional[_Union[Ticket, _Mapping]] = ...) -> None: ...
