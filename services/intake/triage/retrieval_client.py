"""The intake side of the retrieval contract: embeddings for duplicates, and the cases resolved tickets teach."""

from __future__ import annotations

from collections.abc import Callable

import grpc
import numpy as np

from linli.errors import from_rpc_error
from linli.grpc_auth import Metadata
from linli.proto_time import optional_timestamp, to_timestamp
from linli.v1 import cases_pb2, retrieval_pb2, retrieval_pb2_grpc
from services.intake.tickets.duplicates import Embedding
from services.intake.tickets.learning import LearnedCase


def case_to_proto(case: LearnedCase) -> cases_pb2.Case:
    """The wire form of a learned case: resolved, with its times."""
    return cases_pb2.Case(
        id=case.id,
        complaint=case.complaint,
        resolution=case.resolution,
        party=case.party,
        category=case.category,
        community=case.community,
        building=case.building,
        status=cases_pb2.CASE_STATUS_RESOLVED,
        created_at=to_timestamp(case.created_at),
        resolved_at=optional_timestamp(case.resolved_at),
    )


class RetrievalClient:
    """Calls retrieval with a deadline; errors come back as domain errors (Unavailable when it is down).

    Upserts and deletes are admin RPCs: they carry `credentials()` (a service token) as metadata.
    """

    def __init__(
        self, channel: grpc.Channel, *, timeout_seconds: float, credentials: Callable[[], Metadata] = tuple
    ) -> None:
        self._stub = retrieval_pb2_grpc.RetrievalServiceStub(channel)
        self._timeout = timeout_seconds
        self._credentials = credentials

    def embed(self, text: str) -> Embedding:
        """The vector of one text, as retrieval's model sees it."""
        try:
            response: retrieval_pb2.EmbedResponse = self._stub.Embed(
                retrieval_pb2.EmbedRequest(texts=[text]), timeout=self._timeout
            )
        except grpc.RpcError as error:
            raise from_rpc_error(error, service="retrieval") from error
        return Embedding(np.asarray(response.embeddings[0].values, dtype=np.float32), response.model)

    def upsert_case(self, case: LearnedCase) -> None:
        """Adds (or replaces) one resolved case in the index."""
        try:
            self._stub.UpsertCases(
                retrieval_pb2.UpsertCasesRequest(cases=[case_to_proto(case)]),
                timeout=self._timeout,
                metadata=self._credentials(),
            )
        except grpc.RpcError as error:
            raise from_rpc_error(error, service="retrieval") from error

    def delete_case(self, case_id: str) -> None:
        """Removes one case; an unknown id is not an error."""
        try:
            self._stub.DeleteCases(
                retrieval_pb2.DeleteCasesRequest(case_ids=[case_id]),
                timeout=self._timeout,
                metadata=self._credentials(),
            )
        except grpc.RpcError as error:
            raise from_rpc_error(error, service="retrieval") from error
