"""RetrievalService over gRPC: translates protos to the case memory's domain calls and back."""

from __future__ import annotations

import grpc
import numpy as np

from linli.errors import InvalidArgument, Unavailable
from linli.proto_time import from_timestamp, optional_timestamp, to_timestamp
from linli.v1 import cases_pb2, retrieval_pb2, retrieval_pb2_grpc
from services.retrieval.cases import CaseFilter, CaseRecord, CaseStatus
from services.retrieval.memory import CaseMemory
from services.retrieval.queries import SearchAnswer, SearchQuery

_STATUS_TO_PROTO = {
    CaseStatus.OPEN: cases_pb2.CASE_STATUS_OPEN,
    CaseStatus.RESOLVED: cases_pb2.CASE_STATUS_RESOLVED,
}
_STATUS_FROM_PROTO = {value: key for key, value in _STATUS_TO_PROTO.items()}


def case_to_proto(case: CaseRecord) -> cases_pb2.Case:
    """The wire form of a case."""
    return cases_pb2.Case(
        id=case.id,
        complaint=case.complaint,
        resolution=case.resolution,
        party=case.party,
        category=case.category,
        community=case.community,
        building=case.building,
        status=_STATUS_TO_PROTO[case.status],
        created_at=optional_timestamp(case.created_at),
        resolved_at=optional_timestamp(case.resolved_at),
    )


def case_from_proto(message: cases_pb2.Case, field: str = "case") -> CaseRecord:
    """The domain form of a case; an unspecified status means resolved when a resolution is given.

    Args:
        message: the case as sent.
        field: where it was in the request, for the names of bad fields.
    """
    status = _STATUS_FROM_PROTO.get(message.status)
    if status is None:
        status = CaseStatus.RESOLVED if message.resolution.strip() else CaseStatus.OPEN
    return CaseRecord(
        id=message.id,
        complaint=message.complaint,
        resolution=message.resolution,
        party=message.party,
        category=message.category,
        community=message.community,
        building=message.building,
        status=status,
        created_at=from_timestamp(
            message.created_at, present=message.HasField("created_at"), field=f"{field}.created_at"
        ),
        resolved_at=from_timestamp(
            message.resolved_at, present=message.HasField("resolved_at"), field=f"{field}.resolved_at"
        ),
    )


def filter_from_proto(message: cases_pb2.CaseFilter) -> CaseFilter:
    """The domain form of a search filter."""
    return CaseFilter(
        community=message.community or None,
        party=message.party or None,
        resolved_only=message.resolved_only,
        resolved_after=from_timestamp(
            message.resolved_after, present=message.HasField("resolved_after"), field="filter.resolved_after"
        ),
        resolved_before=from_timestamp(
            message.resolved_before, present=message.HasField("resolved_before"), field="filter.resolved_before"
        ),
    )


def query_from_proto(message: retrieval_pb2.SearchCasesRequest) -> SearchQuery:
    """The domain form of a search: by text, or by the sent vector."""
    by_text = message.WhichOneof("query") == "text"
    return SearchQuery(
        k=message.k,
        case_filter=filter_from_proto(message.filter),
        text=message.text if by_text else None,
        vector=None if by_text else np.asarray(message.vector.values, dtype=np.float32),
    )


class RetrievalServicer(retrieval_pb2_grpc.RetrievalServiceServicer):
    """Serves the case memory once it is loaded; until then every call is UNAVAILABLE."""

    def __init__(self) -> None:
        self._memory: CaseMemory | None = None

    def attach(self, memory: CaseMemory) -> None:
        """Starts serving a loaded memory."""
        self._memory = memory

    @property
    def loaded_memory(self) -> CaseMemory | None:
        """The memory once loaded, None before."""
        return self._memory

    @property
    def memory(self) -> CaseMemory:
        if self._memory is None:
            raise Unavailable("the retrieval index is still loading")
        return self._memory

    def Embed(self, request: retrieval_pb2.EmbedRequest, context: grpc.ServicerContext) -> retrieval_pb2.EmbedResponse:
        vectors = self.memory.embed(list(request.texts))
        return retrieval_pb2.EmbedResponse(
            embeddings=[retrieval_pb2.Embedding(values=row.tolist()) for row in vectors],
            model=self.memory.model_name,
            dimension=self.memory.dimension,
        )

    def SearchCases(
        self, request: retrieval_pb2.SearchCasesRequest, context: grpc.ServicerContext
    ) -> retrieval_pb2.SearchCasesResponse:
        answer = self.memory.search_many([query_from_proto(request)], field=None)[0]
        return self._search_response(request, answer)

    def BatchSearchCases(
        self, request: retrieval_pb2.BatchSearchCasesRequest, context: grpc.ServicerContext
    ) -> retrieval_pb2.BatchSearchCasesResponse:
        queries = []
        for i, search in enumerate(request.searches):
            try:
                queries.append(query_from_proto(search))
            except InvalidArgument as error:
                raise error.nested(f"searches[{i}]") from None
        answers = self.memory.search_many(queries)
        return retrieval_pb2.BatchSearchCasesResponse(
            results=[self._search_response(s, a) for s, a in zip(request.searches, answers, strict=True)]
        )

    def _search_response(
        self, request: retrieval_pb2.SearchCasesRequest, answer: SearchAnswer
    ) -> retrieval_pb2.SearchCasesResponse:
        query, hits = answer
        response = retrieval_pb2.SearchCasesResponse(
            results=[cases_pb2.ScoredCase(case=case_to_proto(case), score=score) for case, score in hits],
            model=self.memory.model_name,
        )
        if request.WhichOneof("query") == "text" and request.include_query_vector:
            response.query_vector.values.extend(query.tolist())
        return response

    def UpsertCases(
        self, request: retrieval_pb2.UpsertCasesRequest, context: grpc.ServicerContext
    ) -> retrieval_pb2.UpsertCasesResponse:
        cases = [case_from_proto(case, f"cases[{i}]") for i, case in enumerate(request.cases)]
        upserted = self.memory.upsert(cases)
        return retrieval_pb2.UpsertCasesResponse(upserted=upserted, case_count=self.memory.stats().case_count)

    def DeleteCases(
        self, request: retrieval_pb2.DeleteCasesRequest, context: grpc.ServicerContext
    ) -> retrieval_pb2.DeleteCasesResponse:
        deleted = self.memory.delete(list(request.case_ids))
        return retrieval_pb2.DeleteCasesResponse(deleted=deleted, case_count=self.memory.stats().case_count)

    def GetIndexStats(
        self, request: retrieval_pb2.GetIndexStatsRequest, context: grpc.ServicerContext
    ) -> retrieval_pb2.GetIndexStatsResponse:
        stats = self.memory.stats()
        return retrieval_pb2.GetIndexStatsResponse(
            case_count=stats.case_count,
            dimension=stats.dimension,
            model=stats.model,
            index_type=stats.index_type,
            updated_at=to_timestamp(stats.updated_at),
            stale_fraction=stats.stale_fraction,
            snapshot=stats.snapshot,
        )

    def SnapshotIndex(
        self, request: retrieval_pb2.SnapshotIndexRequest, context: grpc.ServicerContext
    ) -> retrieval_pb2.SnapshotIndexResponse:
        path = self.memory.snapshot()
        return retrieval_pb2.SnapshotIndexResponse(snapshot=path.name, case_count=self.memory.stats().case_count)

    def ReloadIndex(
        self, request: retrieval_pb2.ReloadIndexRequest, context: grpc.ServicerContext
    ) -> retrieval_pb2.ReloadIndexResponse:
        count = self.memory.reload()
        return retrieval_pb2.ReloadIndexResponse(case_count=count, snapshot=self.memory.stats().snapshot)
