"""The one client of the retrieval service: embeddings, case search, the index's cases and its admin operations."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import grpc
import numpy as np
import numpy.typing as npt

from linli.clients.calls import Metadata, intercepted
from linli.v1 import cases_pb2, retrieval_pb2, retrieval_pb2_grpc

SERVICE = "retrieval"


@dataclass(frozen=True)
class EmbeddedTexts:
    """Vectors of texts, one row each, and the model that made them."""

    vectors: npt.NDArray[np.float32]
    model: str

    @classmethod
    def of_one(cls, values: Sequence[float], model: str) -> EmbeddedTexts | None:
        """One text's vector from the wire; None when absent (no values: the server had none to send)."""
        return cls(np.asarray(values, dtype=np.float32)[np.newaxis, :], model) if values else None


# A text's vector as retrieval searched with it (None from a server too old to send it), and its nearest cases.
NearCases = tuple[EmbeddedTexts | None, list[cases_pb2.ScoredCase]]


def _resolved_near(k: int, text: str) -> retrieval_pb2.SearchCasesRequest:
    return retrieval_pb2.SearchCasesRequest(
        k=k, text=text, filter=cases_pb2.CaseFilter(resolved_only=True), include_query_vector=True
    )


def _near_cases(response: retrieval_pb2.SearchCasesResponse) -> NearCases:
    return EmbeddedTexts.of_one(response.query_vector.values, response.model), list(response.results)


class RetrievalClient:
    """Calls retrieval with a deadline; failures come back as LinliErrors (Unavailable when it is down).

    Every RPC of retrieval needs a service's or an admin's token: each call carries `credentials()` as metadata
    (e.g. ServiceCredentials.metadata; an empty tuple only when the channel is mTLS with a client certificate).
    """

    def __init__(
        self,
        channel: grpc.Channel,
        *,
        timeout_seconds: float,
        credentials: Callable[[], Metadata],
    ) -> None:
        self._stub = retrieval_pb2_grpc.RetrievalServiceStub(intercepted(channel, SERVICE))
        self._timeout = timeout_seconds
        self._credentials = credentials

    def embed(self, texts: Sequence[str], *, timeout_seconds: float | None = None) -> EmbeddedTexts:
        """The vectors of `texts` as retrieval's model sees them, shape (len(texts), dimension)."""
        response: retrieval_pb2.EmbedResponse = self._stub.Embed(
            retrieval_pb2.EmbedRequest(texts=list(texts)),
            timeout=timeout_seconds or self._timeout,
            metadata=self._credentials(),
        )
        rows = [np.asarray(embedding.values, dtype=np.float32) for embedding in response.embeddings]
        vectors = np.stack(rows) if rows else np.zeros((0, response.dimension), dtype=np.float32)
        return EmbeddedTexts(vectors, response.model)

    def similar_resolved(
        self, *, k: int, text: str = "", vector: npt.NDArray[np.float32] | None = None
    ) -> list[cases_pb2.ScoredCase]:
        """The `k` resolved cases closest to `vector` (or to `text`, embedded by retrieval), closest first."""
        request = retrieval_pb2.SearchCasesRequest(k=k, filter=cases_pb2.CaseFilter(resolved_only=True))
        if vector is not None:
            request.vector.CopyFrom(retrieval_pb2.Embedding(values=vector.tolist()))
        else:
            request.text = text
        response: retrieval_pb2.SearchCasesResponse = self._stub.SearchCases(
            request, timeout=self._timeout, metadata=self._credentials()
        )
        return list(response.results)

    def resolved_near_text(self, *, k: int, text: str) -> NearCases:
        """`similar_resolved` to `text`, and the text's vector retrieval searched with (None from a server too old
        to return it): one call where Embed and a search by vector would be two."""
        response: retrieval_pb2.SearchCasesResponse = self._stub.SearchCases(
            _resolved_near(k, text), timeout=self._timeout, metadata=self._credentials()
        )
        return _near_cases(response)

    def resolved_near_texts(self, *, k: int, texts: Sequence[str]) -> list[NearCases]:
        """`resolved_near_text` of each text, in one BatchSearchCases call (at most retrieval's batch limit)."""
        response: retrieval_pb2.BatchSearchCasesResponse = self._stub.BatchSearchCases(
            retrieval_pb2.BatchSearchCasesRequest(searches=[_resolved_near(k, text) for text in texts]),
            timeout=self._timeout,
            metadata=self._credentials(),
        )
        return [_near_cases(result) for result in response.results]

    def index_stats(self) -> retrieval_pb2.GetIndexStatsResponse:
        """Size of the index and the embedding model (name, dimension) it searches with."""
        response: retrieval_pb2.GetIndexStatsResponse = self._stub.GetIndexStats(
            retrieval_pb2.GetIndexStatsRequest(), timeout=self._timeout, metadata=self._credentials()
        )
        return response

    def upsert_cases(self, cases: Sequence[cases_pb2.Case]) -> None:
        """Adds (or replaces) cases in the index."""
        self._stub.UpsertCases(
            retrieval_pb2.UpsertCasesRequest(cases=list(cases)), timeout=self._timeout, metadata=self._credentials()
        )

    def delete_cases(self, case_ids: Sequence[str]) -> None:
        """Removes cases; an unknown id is not an error."""
        self._stub.DeleteCases(
            retrieval_pb2.DeleteCasesRequest(case_ids=list(case_ids)),
            timeout=self._timeout,
            metadata=self._credentials(),
        )

    def snapshot_index(self) -> retrieval_pb2.SnapshotIndexResponse:
        """Has the server write a snapshot of its index now."""
        response: retrieval_pb2.SnapshotIndexResponse = self._stub.SnapshotIndex(
            retrieval_pb2.SnapshotIndexRequest(), timeout=self._timeout, metadata=self._credentials()
        )
        return response

    def reload_index(self) -> retrieval_pb2.ReloadIndexResponse:
        """Has the server load its newest snapshot, catch up with its case store and switch to it."""
        response: retrieval_pb2.ReloadIndexResponse = self._stub.ReloadIndex(
            retrieval_pb2.ReloadIndexRequest(), timeout=self._timeout, metadata=self._credentials()
        )
        return response
