import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from linli.v1 import cases_pb2 as _cases_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Embedding(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, values: _Optional[_Iterable[float]] = ...) -> None: ...

class EmbedRequest(_message.Message):
    __slots__ = ("texts",)
    TEXTS_FIELD_NUMBER: _ClassVar[int]
    texts: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, texts: _Optional[_Iterable[str]] = ...) -> None: ...

class EmbedResponse(_message.Message):
    __slots__ = ("embeddings", "model", "dimension")
    EMBEDDINGS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    embeddings: _containers.RepeatedCompositeFieldContainer[Embedding]
    model: str
    dimension: int
    def __init__(self, embeddings: _Optional[_Iterable[_Union[Embedding, _Mapping]]] = ..., model: _Optional[str] = ..., dimension: _Optional[int] = ...) -> None: ...

class SearchCasesRequest(_message.Message):
    __slots__ = ("text", "vector", "k", "filter", "include_query_vector")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    VECTOR_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_QUERY_VECTOR_FIELD_NUMBER: _ClassVar[int]
    text: str
    vector: Embedding
    k: int
    filter: _cases_pb2.CaseFilter
    include_query_vector: bool
    def __init__(self, text: _Optional[str] = ..., vector: _Optional[_Union[Embedding, _Mapping]] = ..., k: _Optional[int] = ..., filter: _Optional[_Union[_cases_pb2.CaseFilter, _Mapping]] = ..., include_query_vector: _Optional[bool] = ...) -> None: ...

class SearchCasesResponse(_message.Message):
    __slots__ = ("results", "model", "query_vector")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    QUERY_VECTOR_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[_cases_pb2.ScoredCase]
    model: str
    query_vector: Embedding
    def __init__(self, results: _Optional[_Iterable[_Union[_cases_pb2.ScoredCase, _Mapping]]] = ..., model: _Optional[str] = ..., query_vector: _Optional[_Union[Embedding, _Mapping]] = ...) -> None: ...

class BatchSearchCasesRequest(_message.Message):
    __slots__ = ("searches",)
    SEARCHES_FIELD_NUMBER: _ClassVar[int]
    searches: _containers.RepeatedCompositeFieldContainer[SearchCasesRequest]
    def __init__(self, searches: _Optional[_Iterable[_Union[SearchCasesRequest, _Mapping]]] = ...) -> None: ...

class BatchSearchCasesResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[SearchCasesResponse]
    def __init__(self, results: _Optional[_Iterable[_Union[SearchCasesResponse, _Mapping]]] = ...) -> None: ...

class UpsertCasesRequest(_message.Message):
    __slots__ = ("cases",)
    CASES_FIELD_NUMBER: _ClassVar[int]
    cases: _containers.RepeatedCompositeFieldContainer[_cases_pb2.Case]
    def __init__(self, cases: _Optional[_Iterable[_Union[_cases_pb2.Case, _Mapping]]] = ...) -> None: ...

class UpsertCasesResponse(_message.Message):
    __slots__ = ("upserted", "case_count")
    UPSERTED_FIELD_NUMBER: _ClassVar[int]
    CASE_COUNT_FIELD_NUMBER: _ClassVar[int]
    upserted: int
    case_count: int
    def __init__(self, upserted: _Optional[int] = ..., case_count: _Optional[int] = ...) -> None: ...

class DeleteCasesRequest(_message.Message):
    __slots__ = ("case_ids",)
    CASE_IDS_FIELD_NUMBER: _ClassVar[int]
    case_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, case_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class DeleteCasesResponse(_message.Message):
    __slots__ = ("deleted", "case_count")
    DELETED_FIELD_NUMBER: _ClassVar[int]
    CASE_COUNT_FIELD_NUMBER: _ClassVar[int]
    deleted: int
    case_count: int
    def __init__(self, deleted: _Optional[int] = ..., case_count: _Optional[int] = ...) -> None: ...

class GetIndexStatsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetIndexStatsResponse(_message.Message):
    __slots__ = ("case_count", "dimension", "model", "index_type", "updated_at", "stale_fraction", "snapshot")
    CASE_COUNT_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    INDEX_TYPE_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    STALE_FRACTION_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    case_count: int
    dimension: int
    model: str
    index_type: str
    updated_at: _timestamp_pb2.Timestamp
    stale_fraction: float
    snapshot: str
    def __init__(self, case_count: _Optional[int] = ..., dimension: _Optional[int] = ..., model: _Optional[str] = ..., index_type: _Optional[str] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., stale_fraction: _Optional[float] = ..., snapshot: _Optional[str] = ...) -> None: ...

class SnapshotIndexRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SnapshotIndexResponse(_message.Message):
    __slots__ = ("snapshot", "case_count")
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    CASE_COUNT_FIELD_NUMBER: _ClassVar[int]
    snapshot: str
    case_count: int
    def __init__(self, snapshot: _Optional[str] = ..., case_count: _Optional[int] = ...) -> None: ...

class ReloadIndexRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ReloadIndexResponse(_message.Message):
    __slots__ = ("case_count", "snapshot")
    CASE_COUNT_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    case_count: int
    snapshot: str
    def __init__(self, case_count: _Optional[int] = ..., snapshot: _Optional[str] = ...) -> None: ...
