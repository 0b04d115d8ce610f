"""Hypothesis-generated requests of every RPC of intake, retrieval and routing, as every kind of caller.

Property: no INTERNAL, UNKNOWN, UNAVAILABLE or deadline; the server still answers health checks afterwards.
Requests are built from the protos' descriptors (tests/fuzz/proto_strategies.py), with plausible ids and names
mixed in so that some get past validation; a second pass sends random bytes as the serialized request.
"""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import strategies as st

from linli.grpc_serving import ServerHandle
from linli.parties import DEFAULT_PARTIES
from linli.v1 import cases_pb2, intake_pb2, retrieval_pb2, routing_pb2
from services.intake.settings import DEFAULT_COMMUNITIES
from services.retrieval.server import RetrievalServer
from tests.fuzz.grpc_fuzzing import Rpc, assert_serving, call, fuzz_rpc, rpcs_of
from tests.fuzz.harness import RESIDENT, SEED_TEXTS, Callers, FuzzTally, IntakeUnderFuzz
from tests.fuzz.proto_strategies import ProtoStrategies, vectors_from_bytes

INTAKE_RPCS = rpcs_of(intake_pb2, "IntakeService")
RETRIEVAL_RPCS = rpcs_of(retrieval_pb2, "RetrievalService")
ROUTING_RPCS = rpcs_of(routing_pb2, "RoutingService")
# Where the real model is worth its cost: the calls that tokenize and embed text.
MODEL_RPCS = [rpc for rpc in RETRIEVAL_RPCS if rpc.method.name in ("Embed", "SearchCases")]
MODEL_SHARE = 0.4

COMMON_HINTS: dict[str, st.SearchStrategy[object]] = {
    "community": st.sampled_from(DEFAULT_COMMUNITIES),
    "party": st.sampled_from(DEFAULT_PARTIES),
    "to_party": st.sampled_from(DEFAULT_PARTIES),
    "text": st.sampled_from(SEED_TEXTS),
    "complaint": st.sampled_from(SEED_TEXTS),
    "resolution": st.just("已安排维修,当天修好"),
    "reason": st.just("不是我们的职责范围,应由街道处理"),
    "building": st.sampled_from(("3号楼", "12栋")),
    "resident_id": st.just(RESIDENT),
    "attachment_urls": st.just("https://example.org/photo.jpg"),
    "score": st.integers(1, 5),
    "k": st.integers(1, 10),
}


def by_label(rpc: Rpc) -> str:
    return rpc.method.name


@pytest.fixture
def intake_channel(intake_under_fuzz: IntakeUnderFuzz) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(intake_under_fuzz.target) as channel:
        yield channel
        assert_serving(channel)


@pytest.fixture
def retrieval_channel(retrieval_under_fuzz: RetrievalServer) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(f"127.0.0.1:{retrieval_under_fuzz.handle.port}") as channel:
        yield channel
        assert_serving(channel)


@pytest.fixture
def routing_channel(routing_under_fuzz: ServerHandle) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(f"127.0.0.1:{routing_under_fuzz.port}") as channel:
        yield channel
        assert_serving(channel)


@pytest.mark.parametrize("rpc", INTAKE_RPCS, ids=by_label)
def test_intake_rpc_survives_hostile_requests(
    rpc: Rpc, intake_under_fuzz: IntakeUnderFuzz, intake_channel: grpc.Channel, callers: Callers, tally: FuzzTally
) -> None:
    ticket_ids = st.sampled_from(intake_under_fuzz.ticket_ids)
    strategies = ProtoStrategies({**COMMON_HINTS, "ticket_id": ticket_ids, "primary_ticket_id": ticket_ids})
    fuzz_rpc(intake_channel, rpc, strategies.message(rpc.method.input_type), callers, tally)


# Vectors from random bytes: NaN, infinities, subnormals, any length (the index expects 32 dimensions).
RETRIEVAL_OVERRIDES = {"linli.v1.Embedding.values": st.one_of(vectors_from_bytes(), st.lists(st.floats(), max_size=33))}


@pytest.mark.parametrize("rpc", RETRIEVAL_RPCS, ids=by_label)
def test_retrieval_rpc_survives_hostile_requests(
    rpc: Rpc, retrieval_channel: grpc.Channel, callers: Callers, tally: FuzzTally
) -> None:
    ids = st.sampled_from(("fuzz-case-1", "fuzz-case-2", "ticket-1"))
    strategies = ProtoStrategies({**COMMON_HINTS, "id": ids, "case_ids": ids}, RETRIEVAL_OVERRIDES)
    fuzz_rpc(retrieval_channel, rpc, strategies.message(rpc.method.input_type), callers, tally)


@pytest.mark.parametrize("rpc", MODEL_RPCS, ids=by_label)
def test_retrieval_with_the_real_model_survives_hostile_text(
    rpc: Rpc, model_retrieval_under_fuzz: RetrievalServer, callers: Callers, tally: FuzzTally
) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{model_retrieval_under_fuzz.handle.port}") as channel:
        strategies = ProtoStrategies(COMMON_HINTS, RETRIEVAL_OVERRIDES)
        requests = strategies.message(rpc.method.input_type)
        fuzz_rpc(channel, rpc, requests, callers, tally, share=MODEL_SHARE, prefix="grpc m3e-small")
        assert_serving(channel)


@pytest.mark.parametrize("rpc", ROUTING_RPCS, ids=by_label)
def test_routing_rpc_survives_hostile_requests(
    rpc: Rpc, routing_channel: grpc.Channel, callers: Callers, tally: FuzzTally
) -> None:
    strategies = ProtoStrategies(COMMON_HINTS)
    fuzz_rpc(routing_channel, rpc, strategies.message(rpc.method.input_type), callers, tally)


RAW_BYTES = st.one_of(
    st.binary(max_size=512),
    # Valid messages with a corrupted byte or cut short: past the first field, into the parser's corners.
    st.tuples(st.binary(min_size=1, max_size=64), st.integers(0, 63), st.integers(0, 255)).map(
        lambda parts: parts[0][: parts[1]] + bytes([parts[2]]) + parts[0][parts[1] + 1 :]
    ),
    st.sampled_from((b"\x0a\x02\xff\xfe", b"\x0a\xff\xff\xff\xff\x0f", b"\x12\x05ab", b"\x08\x80\x80\x80\x80\x80")),
)


def test_random_bytes_are_refused_as_invalid_arguments(
    intake_channel: grpc.Channel,
    retrieval_channel: grpc.Channel,
    routing_channel: grpc.Channel,
    callers: Callers,
    tally: FuzzTally,
) -> None:
    channels = [(intake_channel, INTAKE_RPCS), (retrieval_channel, RETRIEVAL_RPCS), (routing_channel, ROUTING_RPCS)]
    for channel, rpcs in channels:
        for rpc in rpcs:
            fuzz_rpc(channel, rpc, RAW_BYTES, callers, tally, share=0.4, prefix="grpc raw bytes")


def test_what_fuzzing_found_stays_fixed(
    intake_channel: grpc.Channel, retrieval_channel: grpc.Channel, callers: Callers
) -> None:
    # A Timestamp outside years 1-9999 was an INTERNAL from the conversion; it is the client's error, named.
    far_past = retrieval_pb2.SearchCasesRequest(
        text="楼道灯坏了", k=3, filter=cases_pb2.CaseFilter(resolved_after=Timestamp(seconds=-(2**63)))
    )
    # As a service: retrieval answers services only (and an unauthenticated call is refused before it is read).
    service = (("authorization", callers.service),)
    code, details = call(retrieval_channel, rpc_named(RETRIEVAL_RPCS, "SearchCases"), far_past, service)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert "valid time" in details
    # Bytes that are no message were grpc's INTERNAL ("Exception deserializing request!").
    code, _ = call(retrieval_channel, rpc_named(RETRIEVAL_RPCS, "Embed"), b"\x0a\x02\xff\xfe", service)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    # A status message echoing a huge id overflowed the client's metadata limit and arrived as RESOURCE_EXHAUSTED.
    huge_id = intake_pb2.GetTicketRequest(ticket_id="楼" * 100_000)
    metadata = (("authorization", callers.resident),)
    code, details = call(intake_channel, rpc_named(INTAKE_RPCS, "GetTicket"), huge_id, metadata)
    assert code == grpc.StatusCode.NOT_FOUND
    assert len(details) < 1000


def rpc_named(rpcs: list[Rpc], name: str) -> Rpc:
    return next(rpc for rpc in rpcs if rpc.method.name == name)
