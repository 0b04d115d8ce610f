"""schemathesis against intake's OpenAPI (FastAPI's /openapi.json), in process, as every kind of caller.

Each operation gets requests that fit its schema and requests that break it (schemathesis' positive and negative
modes), sent anonymously, with garbage or forged tokens and with the tokens of a resident, workers, an admin and a
service; ticket ids in paths are sometimes those of real tickets. Properties: no 5xx, every answer's status, content
type and body as the document declares them (schemathesis' conformance checks), and intake still ready after.
A second test sends random bytes as the body of every operation that takes one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import example, given
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from linli.parties import DEFAULT_PARTIES
from services.intake.settings import DEFAULT_COMMUNITIES
from tests.fuzz.harness import RESIDENT, SEED_TEXTS, Callers, FuzzTally, IntakeUnderFuzz, fuzz_settings

# What the document promises of each answer: a declared status, a declared content type, a body of its schema.
RESPONSE_CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]
# Operations whose every generated request is alike (no parameters, no body) need few examples.
SHARE_WITHOUT_INPUT = 0.2
SHOWN_CHARS = 1500


@pytest.fixture(scope="module")
def api_schema(intake_under_fuzz: IntakeUnderFuzz) -> schemathesis.BaseSchema:
    """Intake's OpenAPI document, served by the app under fuzz."""
    return schemathesis.openapi.from_asgi("/openapi.json", intake_under_fuzz.server.http)


@pytest.fixture
def client(intake_under_fuzz: IntakeUnderFuzz) -> Iterator[TestClient]:
    """A client of the same app that reports a 500 as a response instead of raising the server's exception."""
    with TestClient(intake_under_fuzz.server.http, raise_server_exceptions=False) as test_client:
        yield test_client
        assert test_client.get("/readyz").status_code == 200


def operations(schema: schemathesis.BaseSchema) -> list[Any]:
    """Every operation of the document; a part schemathesis cannot read fails the test."""
    return [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]


def has_input(operation: Any) -> bool:
    """True when requests of the operation can differ: it has parameters or a body."""
    definition = operation.definition.raw
    return bool(definition.get("parameters") or definition.get("requestBody"))


def _with_caller(headers: dict[str, Any] | None, authorization: str | object | None) -> dict[str, Any]:
    # `AS_GENERATED` keeps whatever schemathesis put in the Authorization header (if anything).
    kept = {k: v for k, v in (headers or {}).items() if authorization is AS_GENERATED or k.lower() != "authorization"}
    if isinstance(authorization, str):
        kept["Authorization"] = authorization
    return kept


AS_GENERATED = object()


# Values that get a request past validation, put in place of whatever a JSON body carries under that key.
PLAUSIBLE_BODY = st.fixed_dictionaries(
    {},
    optional={
        "text": st.sampled_from(SEED_TEXTS),
        "community": st.sampled_from(DEFAULT_COMMUNITIES),
        "resident_id": st.just(RESIDENT),
        "to_party": st.sampled_from(DEFAULT_PARTIES),
        "reason": st.just("不归我们管,应由街道处理"),
        "resolution": st.just("已安排维修,当天修好"),
        "score": st.integers(1, 5),
        "code": st.just(f"dev:{RESIDENT}"),
    },
)

# Text JSON can carry but no UTF-8 encoder takes (lone surrogates, sent as `\ud800` escapes), and text nobody sees
# or that reads backwards (format characters, directional overrides): 422, never a 500 at the database.
HOSTILE_TEXT = st.one_of(
    st.text(alphabet=st.characters(categories=["Cs"]), min_size=1, max_size=8),
    st.text(alphabet=st.characters(categories=["Cf"]), min_size=1, max_size=8),
    st.sampled_from(("楼道灯坏了\ud800", "\udfff楼道", "楼道灯\u202e坏了", "\u2066\u2069", "\u200b\u200b\u200b")),
)
HOSTILE_TEXT_FIELDS = (
    "text",
    "community",
    "building",
    "idempotency_key",
    "reason",
    "resolution",
    "comment",
    "note",
    "title",
    "outcome",
    "code",
)
HOSTILE_TEXT_BODY = st.fixed_dictionaries(
    {},
    optional={
        **dict.fromkeys(HOSTILE_TEXT_FIELDS, HOSTILE_TEXT),
        "attachment_urls": st.lists(HOSTILE_TEXT.map(lambda text: f"https://example.com/{text}"), max_size=2),
    },
)


def fuzz_operation(
    operation: Any,
    callers: list[tuple[str, str | object | None]],
    ticket_ids: list[str],
    tally: FuzzTally,
) -> None:
    """Sends schemathesis' requests for one operation, sometimes made plausible, as each caller; no 5xx."""
    label = f"http {operation.label}"
    requests = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )

    @fuzz_settings(1.0 if has_input(operation) else SHARE_WITHOUT_INPUT)
    @given(
        case=requests,
        caller=st.sampled_from(callers),
        ticket=st.one_of(st.none(), st.sampled_from(ticket_ids)),
        plausible=st.one_of(st.none(), PLAUSIBLE_BODY, HOSTILE_TEXT_BODY),
    )
    def run(
        case: Any, caller: tuple[str, str | object | None], ticket: str | None, plausible: dict[str, Any] | None
    ) -> None:
        name, authorization = caller
        if ticket is not None and "ticket_id" in (case.path_parameters or {}):
            case.path_parameters["ticket_id"] = ticket
        if plausible and isinstance(case.body, dict):
            case.body.update({key: value for key, value in plausible.items() if key in case.body})
        case.headers = _with_caller(case.headers, authorization)
        response = case.call()
        tally.record(label, str(response.status_code))
        reproduce = f"reproduce: {case.as_curl_command()[:SHOWN_CHARS]}"
        assert response.status_code < 500, (
            f"{operation.label} as {name}: {response.status_code} {response.text[:SHOWN_CHARS]}\n{reproduce}"
        )
        try:
            case.validate_response(response, checks=RESPONSE_CHECKS)
        except Exception as failure:  # schemathesis' failures (one or a group) say what the document does not
            raise AssertionError(f"{operation.label} as {name}: {failure}\n{reproduce}") from failure

    run()


def test_every_operation_answers_hostile_requests_without_5xx(
    api_schema: schemathesis.BaseSchema,
    intake_under_fuzz: IntakeUnderFuzz,
    client: TestClient,
    callers: Callers,
    tally: FuzzTally,
) -> None:
    caller_values: list[tuple[str, str | object | None]] = [*sorted(callers.all().items()), ("generated", AS_GENERATED)]
    failures: list[str] = []
    for operation in operations(api_schema):
        try:
            fuzz_operation(operation, caller_values, intake_under_fuzz.ticket_ids, tally)
        except AssertionError as failure:  # keep going: one report lists every operation that fails
            failures.append(str(failure))
    assert not failures, "\n\n".join(failures)


BODIES = st.one_of(
    st.binary(max_size=2048),
    st.text(max_size=256).map(str.encode),
    st.sampled_from(
        (b"", b"{", b"[]", b"null", b'{"text": null}', b'{"text": 1e999}', b'"' + b"\\u0000" * 64 + b'"', b"\xff\xfe")
    ),
    st.integers(1, 40).map(lambda depth: b"[" * depth * 100 + b"]" * depth * 100),  # deep nesting
)
# Deeper than Python's JSON parser recurses.
DEEPLY_NESTED = b"[" * 5000 + b"]" * 5000
CONTENT_TYPES = ("application/json", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data", "")


def send_random_bodies(
    client: TestClient, method: str, path: str, label: str, callers: list[tuple[str, str | None]], tally: FuzzTally
) -> None:
    """Posts random bytes under assorted content types to one path, as each caller; no 5xx."""

    @fuzz_settings(0.4)
    @given(body=BODIES, content_type=st.sampled_from(CONTENT_TYPES), caller=st.sampled_from(callers))
    @example(body=DEEPLY_NESTED, content_type="application/json", caller=("anonymous", None))  # once was a 500
    def run(body: bytes, content_type: str, caller: tuple[str, str | None]) -> None:
        name, authorization = caller
        headers = {"Content-Type": content_type} if content_type else {}
        if authorization is not None:
            headers["Authorization"] = authorization
        response = client.request(method, path, content=body, headers=headers)
        tally.record(label, str(response.status_code))
        assert response.status_code < 500, f"{label} as {name}: {response.status_code} {response.text[:500]}"

    run()


def test_random_bodies_are_refused_without_5xx(
    api_schema: schemathesis.BaseSchema,
    intake_under_fuzz: IntakeUnderFuzz,
    client: TestClient,
    callers: Callers,
    tally: FuzzTally,
) -> None:
    ticket_id = intake_under_fuzz.ticket_ids[0]
    failures: list[str] = []
    for operation in operations(api_schema):
        if operation.method.upper() not in ("POST", "PUT", "PATCH"):
            continue
        # Open311's paths end in .{format}: the JSON one reads the body as the other routes do.
        path = operation.path.replace("{ticket_id}", ticket_id).replace("{format}", "json")
        label = f"http random body {operation.label}"
        try:
            send_random_bodies(client, operation.method.upper(), path, label, sorted(callers.all().items()), tally)
        except AssertionError as failure:
            failures.append(str(failure))
    assert not failures, "\n\n".join(failures)
