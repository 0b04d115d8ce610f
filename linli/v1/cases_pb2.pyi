import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CaseStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CASE_STATUS_UNSPECIFIED: _ClassVar[CaseStatus]
    CASE_STATUS_OPEN: _ClassVar[CaseStatus]
    CASE_STATUS_RESOLVED: _ClassVar[CaseStatus]
CASE_STATUS_UNSPECIFIED: CaseStatus
CASE_STATUS_OPEN: CaseStatus
CASE_STATUS_RESOLVED: CaseStatus

class Case(_message.Message):
    __slots__ = ("id", "complaint", "resolution", "party", "category", "community", "building", "status", "created_at", "resolved_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    COMPLAINT_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    PARTY_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    COMMUNITY_FIELD_NUMBER: _ClassVar[int]
    BUILDING_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    complaint: str
    resolution: str
    party: str
    category: str
    community: str
    building: str
    status: CaseStatus
    created_at: _timestamp_pb2.Timestamp
    resolved_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., complaint: _Optional[str] = ..., resolution: _Optional[str] = ..., party: _Optional[str] = ..., category: _Optional[str] = ..., community: _Optional[str] = ..., building: _Optional[str] = ..., status: _Optional[_Union[CaseStatus, str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., resolved_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ScoredCase(_message.Message):
    __slots__ = ("case", "score")
    CASE_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    case: Case
    score: float
    def __init__(self, case: _Optional[_Union[Case, _Mapping]] = ..., score: _Optional[float] = ...) -> None: ...

class CaseFilter(_message.Message):
    __slots__ = ("community", "party", "resolved_only", "resolved_after", "resolved_before")
    COMMUNITY_FIELD_NUMBER: _ClassVar[int]
    PARTY_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_ONLY_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_AFTER_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_BEFORE_FIELD_NUMBER: _ClassVar[int]
    community: str
    party: str
    resolved_only: bool
    resolved_after: _timestamp_pb2.Timestamp
    resolved_before: _timestamp_pb2.Timestamp
    def __init__(self, community: _Optional[str] = ..., party: _Optional[str] = ..., resolved_only: _Optional[bool] = ..., resolved_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., resolved_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
