from linli.v1 import cases_pb2 as _cases_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DecidingSignal(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DECIDING_SIGNAL_UNSPECIFIED: _ClassVar[DecidingSignal]
    DECIDING_SIGNAL_CASE_VOTE: _ClassVar[DecidingSignal]
    DECIDING_SIGNAL_CATALOG: _ClassVar[DecidingSignal]
    DECIDING_SIGNAL_CLASSIFIER: _ClassVar[DecidingSignal]
    DECIDING_SIGNAL_NONE: _ClassVar[DecidingSignal]

class Urgency(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    URGENCY_UNSPECIFIED: _ClassVar[Urgency]
    URGENCY_NORMAL: _ClassVar[Urgency]
    URGENCY_URGENT: _ClassVar[Urgency]
    URGENCY_EMERGENCY: _ClassVar[Urgency]

class EscalationLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ESCALATION_LEVEL_UNSPECIFIED: _ClassVar[EscalationLevel]
    ESCALATION_LEVEL_BUILDING: _ClassVar[EscalationLevel]
    ESCALATION_LEVEL_COMMUNITY: _ClassVar[EscalationLevel]
    ESCALATION_LEVEL_STREET: _ClassVar[EscalationLevel]
DECIDING_SIGNAL_UNSPECIFIED: DecidingSignal
DECIDING_SIGNAL_CASE_VOTE: DecidingSignal
DECIDING_SIGNAL_CATALOG: DecidingSignal
DECIDING_SIGNAL_CLASSIFIER: DecidingSignal
DECIDING_SIGNAL_NONE: DecidingSignal
URGENCY_UNSPECIFIED: Urgency
URGENCY_NORMAL: Urgency
URGENCY_URGENT: Urgency
URGENCY_EMERGENCY: Urgency
ESCALATION_LEVEL_UNSPECIFIED: EscalationLevel
ESCALATION_LEVEL_BUILDING: EscalationLevel
ESCALATION_LEVEL_COMMUNITY: EscalationLevel
ESCALATION_LEVEL_STREET: EscalationLevel

class ReloadModelRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ReloadModelResponse(_message.Message):
    __slots__ = ("model", "changed")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    model: ModelInfo
    changed: bool
    def __init__(self, model: _Optional[_Union[ModelInfo, _Mapping]] = ..., changed: _Optional[bool] = ...) -> None: ...

class GetModelInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetModelInfoResponse(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: ModelInfo
    def __init__(self, model: _Optional[_Union[ModelInfo, _Mapping]] = ...) -> None: ...

class ModelInfo(_message.Message):
    __slots__ = ("version", "labels", "threshold", "signals", "embedding_model", "estimated_priors")
    class EstimatedPriorsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    VERSION_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    SIGNALS_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_MODEL_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_PRIORS_FIELD_NUMBER: _ClassVar[int]
    version: str
    labels: _containers.RepeatedScalarFieldContainer[str]
    threshold: float
    signals: _containers.RepeatedScalarFieldContainer[str]
    embedding_model: str
    estimated_priors: _containers.ScalarMap[str, float]
    def __init__(self, version: _Optional[str] = ..., labels: _Optional[_Iterable[str]] = ..., threshold: _Optional[float] = ..., signals: _Optional[_Iterable[str]] = ..., embedding_model: _Optional[str] = ..., estimated_priors: _Optional[_Mapping[str, float]] = ...) -> None: ...

class Complaint(_message.Message):
    __slots__ = ("text", "community", "building")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    COMMUNITY_FIELD_NUMBER: _ClassVar[int]
    BUILDING_FIELD_NUMBER: _ClassVar[int]
    text: str
    community: str
    building: str
    def __init__(self, text: _Optional[str] = ..., community: _Optional[str] = ..., building: _Optional[str] = ...) -> None: ...

class RouteRequest(_message.Message):
    __slots__ = ("complaint", "embedding")
    COMPLAINT_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_FIELD_NUMBER: _ClassVar[int]
    complaint: Complaint
    embedding: TextEmbedding
    def __init__(self, complaint: _Optional[_Union[Complaint, _Mapping]] = ..., embedding: _Optional[_Union[TextEmbedding, _Mapping]] = ...) -> None: ...

class TextEmbedding(_message.Message):
    __slots__ = ("values", "model")
    VALUES_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[float]
    model: str
    def __init__(self, values: _Optional[_Iterable[float]] = ..., model: _Optional[str] = ...) -> None: ...

class RouteResponse(_message.Message):
    __slots__ = ("decision", "text_embedding")
    DECISION_FIELD_NUMBER: _ClassVar[int]
    TEXT_EMBEDDING_FIELD_NUMBER: _ClassVar[int]
    decision: RoutingDecision
    text_embedding: TextEmbedding
    def __init__(self, decision: _Optional[_Union[RoutingDecision, _Mapping]] = ..., text_embedding: _Optional[_Union[TextEmbedding, _Mapping]] = ...) -> None: ...

class BatchRouteRequest(_message.Message):
    __slots__ = ("complaints", "include_text_embeddings")
    COMPLAINTS_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_TEXT_EMBEDDINGS_FIELD_NUMBER: _ClassVar[int]
    complaints: _containers.RepeatedCompositeFieldContainer[Complaint]
    include_text_embeddings: bool
    def __init__(self, complaints: _Optional[_Iterable[_Union[Complaint, _Mapping]]] = ..., include_text_embeddings: _Optional[bool] = ...) -> None: ...

class BatchRouteResponse(_message.Message):
    __slots__ = ("decisions", "text_embeddings")
    DECISIONS_FIELD_NUMBER: _ClassVar[int]
    TEXT_EMBEDDINGS_FIELD_NUMBER: _ClassVar[int]
    decisions: _containers.RepeatedCompositeFieldContainer[RoutingDecision]
    text_embeddings: _containers.RepeatedCompositeFieldContainer[TextEmbedding]
    def __init__(self, decisions: _Optional[_Iterable[_Union[RoutingDecision, _Mapping]]] = ..., text_embeddings: _Optional[_Iterable[_Union[TextEmbedding, _Mapping]]] = ...) -> None: ...

class CatalogMatch(_message.Message):
    __slots__ = ("entry_id", "name", "score", "party", "basis")
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    PARTY_FIELD_NUMBER: _ClassVar[int]
    BASIS_FIELD_NUMBER: _ClassVar[int]
    entry_id: str
    name: str
    score: float
    party: str
    basis: str
    def __init__(self, entry_id: _Optional[str] = ..., name: _Optional[str] = ..., score: _Optional[float] = ..., party: _Optional[str] = ..., basis: _Optional[str] = ...) -> None: ...

class OtherIssue(_message.Message):
    __slots__ = ("entry", "excerpt")
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    EXCERPT_FIELD_NUMBER: _ClassVar[int]
    entry: CatalogMatch
    excerpt: str
    def __init__(self, entry: _Optional[_Union[CatalogMatch, _Mapping]] = ..., excerpt: _Optional[str] = ...) -> None: ...

class SignalOpinion(_message.Message):
    __slots__ = ("signal", "party", "probability")
    SIGNAL_FIELD_NUMBER: _ClassVar[int]
    PARTY_FIELD_NUMBER: _ClassVar[int]
    PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    signal: DecidingSignal
    party: str
    probability: float
    def __init__(self, signal: _Optional[_Union[DecidingSignal, str]] = ..., party: _Optional[str] = ..., probability: _Optional[float] = ...) -> None: ...

class PartyScore(_message.Message):
    __slots__ = ("party", "probability")
    PARTY_FIELD_NUMBER: _ClassVar[int]
    PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    party: str
    probability: float
    def __init__(self, party: _Optional[str] = ..., probability: _Optional[float] = ...) -> None: ...

class Rationale(_message.Message):
    __slots__ = ("deciding_signal", "summary", "opinions", "catalog_entry")
    DECIDING_SIGNAL_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    OPINIONS_FIELD_NUMBER: _ClassVar[int]
    CATALOG_ENTRY_FIELD_NUMBER: _ClassVar[int]
    deciding_signal: DecidingSignal
    summary: str
    opinions: _containers.RepeatedCompositeFieldContainer[SignalOpinion]
    catalog_entry: CatalogMatch
    def __init__(self, deciding_signal: _Optional[_Union[DecidingSignal, str]] = ..., summary: _Optional[str] = ..., opinions: _Optional[_Iterable[_Union[SignalOpinion, _Mapping]]] = ..., catalog_entry: _Optional[_Union[CatalogMatch, _Mapping]] = ...) -> None: ...

class RoutingDecision(_message.Message):
    __slots__ = ("party", "confidence", "abstained", "alternatives", "rationale", "suggested_resolution", "similar_cases", "category", "router_version", "urgency", "urgency_notice", "sla_hours", "escalation_level", "co_parties", "other_issues")
    PARTY_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    ABSTAINED_FIELD_NUMBER: _ClassVar[int]
    ALTERNATIVES_FIELD_NUMBER: _ClassVar[int]
    RATIONALE_FIELD_NUMBER: _ClassVar[int]
    SUGGESTED_RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    SIMILAR_CASES_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    ROUTER_VERSION_FIELD_NUMBER: _ClassVar[int]
    URGENCY_FIELD_NUMBER: _ClassVar[int]
    URGENCY_NOTICE_FIELD_NUMBER: _ClassVar[int]
    SLA_HOURS_FIELD_NUMBER: _ClassVar[int]
    ESCALATION_LEVEL_FIELD_NUMBER: _ClassVar[int]
    CO_PARTIES_FIELD_NUMBER: _ClassVar[int]
    OTHER_ISSUES_FIELD_NUMBER: _ClassVar[int]
    party: str
    confidence: float
    abstained: bool
    alternatives: _containers.RepeatedCompositeFieldContainer[PartyScore]
    rationale: Rationale
    suggested_resolution: str
    similar_cases: _containers.RepeatedCompositeFieldContainer[_cases_pb2.ScoredCase]
    category: str
    router_version: str
    urgency: Urgency
    urgency_notice: str
    sla_hours: int
    escalation_level: EscalationLevel
    co_parties: _containers.RepeatedScalarFieldContainer[str]
    other_issues: _containers.RepeatedCompositeFieldContainer[OtherIssue]
    def __init__(self, party: _Optional[str] = ..., confidence: _Optional[float] = ..., abstained: _Optional[bool] = ..., alternatives: _Optional[_Iterable[_Union[PartyScore, _Mapping]]] = ..., rationale: _Optional[_Union[Rationale, _Mapping]] = ..., suggested_resolution: _Optional[str] = ..., similar_cases: _Optional[_Iterable[_Union[_cases_pb2.ScoredCase, _Mapping]]] = ..., category: _Optional[str] = ..., router_version: _Optional[str] = ..., urgency: _Optional[_Union[Urgency, str]] = ..., urgency_notice: _Optional[str] = ..., sla_hours: _Optional[int] = ..., escalation_level: _Optional[_Union[EscalationLevel, str]] = ..., co_parties: _Optional[_Iterable[str]] = ..., other_issues: _Optional[_Iterable[_Union[OtherIssue, _Mapping]]] = ...) -> None: ...
