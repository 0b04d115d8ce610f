"""Revoking one person's tokens: refused over HTTP and gRPC while colleagues and newer tokens work, the snapshot's
refresh interval (one read however many threads ask), a failed refresh, lifting a revocation, pruning those that
can refuse nothing any more, and `linli token revoke` / `unrevoke` / `revocations [--prune]`."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from linli.errors import InvalidArgument, NotFound, Unauthenticated
from linli.grpc_auth import bearer_metadata
from linli.settings import AuthSettings
from linli.tokens import MAX_TTL, Claims, Role, TokenCodec, TokenKind
from linli.v1 import intake_pb2, intake_pb2_grpc
from services.cli.main import main as linli
from services.intake.auth.authenticator import Authenticator
from services.intake.auth.models import RevokedSubject
from services.intake.auth.revocations import REVOCATION_LIFETIME, Revocations
from services.intake.database import Database
from services.intake.http_app import create_http_app
from services.intake.ratelimit import RateLimiter
from tests.tokens import bearer
from tests.unit.intake.fakes import Intake, face_services, http_security
from tests.unit.intake.servers import sqlite_intake

# Provides the `ticket_database` fixture (SQLite and PostgreSQL).
pytest_plugins = ["tests.unit.intake.database"]

START = 1_800_000_000.0  # whole seconds: a token issued now has issued-at START
COMMUNITY = "西渚社区"
OPERATOR = "operator:ops-1"
AN_HOUR = timedelta(hours=1)


class Clock:
    """Seconds that move only when a test moves them."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def at(seconds: float) -> datetime:
    """The wall-clock instant of `seconds` since the epoch."""
    return datetime.fromtimestamp(seconds, UTC)


@pytest.fixture
def wall() -> Clock:
    """The clock tokens are issued and verified by."""
    return Clock(START)


@pytest.fixture
def codec(wall: Clock) -> TokenCodec:
    """The run's keys, on the test's wall clock."""
    return TokenCodec(AuthSettings().signing_keys(), clock=wall)


def worker_claims(codec: TokenCodec, worker_id: str) -> tuple[str, Claims]:
    """A property manager's token of the codec's current second, and its claims."""
    return codec.issue(
        TokenKind.WORKER, worker_id, ttl=AN_HOUR, party="property_manager", community=COMMUNITY, role=Role.WORKER
    )


def worker_headers(codec: TokenCodec, worker_id: str) -> dict[str, str]:
    """HTTP headers of a property manager, with a token issued in the codec's current second."""
    return bearer(worker_claims(codec, worker_id)[0])


def http_client(database: Database, codec: TokenCodec, revocations: Revocations) -> TestClient:
    """The HTTP API the unit tests use, checking tokens against `revocations`."""
    ready = threading.Event()
    ready.set()
    security = http_security(codec=codec, revocations=revocations)
    flows = Intake(database).flows
    return TestClient(create_http_app(flows, security, database, ready, faces=face_services(flows, database)))


def test_a_revoked_workers_token_is_401_while_a_colleagues_and_a_newer_one_work(
    ticket_database: Database, wall: Clock, codec: TokenCodec
) -> None:
    revocations = Revocations(ticket_database, refresh_seconds=15, clock=Clock(0.0))
    client = http_client(ticket_database, codec, revocations)
    leaving, colleague = worker_headers(codec, "w-7"), worker_headers(codec, "w-8")
    assert client.get("/v1/tickets", headers=leaving).status_code == 200

    wall.now += 0.5  # still the second the tokens were issued in
    revocations.revoke("worker", "w-7", reason="phone lost", actor=OPERATOR, now=at(wall.now))
    refused = client.get("/v1/tickets", headers=leaving)
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == "Bearer"
    assert (refused.json()["error"]["code"], refused.json()["error"]["message"]) == ("unauthenticated", "token revoked")
    assert client.get("/v1/tickets", headers=colleague).status_code == 200
    # Issued-at has whole seconds: a token of the revocation's own second cannot be told apart from the lost one.
    assert client.get("/v1/tickets", headers=worker_headers(codec, "w-7")).status_code == 401

    wall.now += 1  # the next second: the worker's new token
    assert client.get("/v1/tickets", headers=worker_headers(codec, "w-7")).status_code == 200
    assert client.get("/v1/tickets", headers=leaving).status_code == 401


def test_revoking_again_moves_the_instant_forward_never_back(
    ticket_database: Database, wall: Clock, codec: TokenCodec
) -> None:
    revocations = Revocations(ticket_database, refresh_seconds=0)
    first = revocations.revoke(TokenKind.WORKER, "w-7", reason="phone lost", actor=OPERATOR, now=at(START + 0.7))
    assert first.revoked_before == at(START)  # truncated to the second, like issued-at
    wall.now = START + 600
    _, replacement = worker_claims(codec, "w-7")
    assert not revocations.is_revoked(replacement)

    again = revocations.revoke("worker", "w-7", reason="new phone lost too", actor="operator:ops-2", now=at(wall.now))
    assert again.revoked_before == at(START + 600)
    assert revocations.is_revoked(replacement)
    late = revocations.revoke("worker", "w-7", reason="clock behind", actor=OPERATOR, now=at(START + 60))
    assert late.revoked_before == at(START + 600)  # an operator's slow clock does not un-revoke a token

    [stored] = revocations.current()
    assert (stored.kind, stored.subject, stored.revoked_before, stored.reason, stored.actor) == (
        TokenKind.WORKER,
        "w-7",
        at(START + 600),
        "clock behind",
        OPERATOR,
    )


def test_a_revocation_from_another_process_counts_after_the_refresh_interval_not_before(
    ticket_database: Database, codec: TokenCodec
) -> None:
    refresh = Clock(100.0)
    intake = Revocations(ticket_database, refresh_seconds=15, clock=refresh)
    _, claims = worker_claims(codec, "w-7")
    assert not intake.is_revoked(claims)  # the first check reads the table (empty)

    # `linli token revoke`: another process, another Revocations.
    Revocations(ticket_database).revoke("worker", "w-7", actor=OPERATOR, now=claims.issued_at)
    refresh.now += 14.9
    assert not intake.is_revoked(claims)
    refresh.now += 0.1
    assert intake.is_revoked(claims)


def test_the_event_loop_check_answers_from_the_snapshot_and_defers_a_due_read(
    ticket_database: Database, codec: TokenCodec
) -> None:
    refresh = Clock(100.0)
    revocations = Revocations(ticket_database, refresh_seconds=15, clock=refresh)
    authenticator = Authenticator(codec, revocations)
    token, claims = worker_claims(codec, "w-7")
    header = f"Bearer {token}"
    assert authenticator.identify_in_memory(header) is None  # never read: the first check must read the table

    caller = authenticator.identify(header)
    assert authenticator.identify_in_memory(header) == caller
    Revocations(ticket_database, refresh_seconds=0).revoke("worker", "w-7", actor=OPERATOR, now=claims.issued_at)
    refresh.now += 15
    assert authenticator.identify_in_memory(header) is None  # due: left to `identify`, on a worker thread
    with pytest.raises(Unauthenticated, match="revoked"):
        authenticator.identify(header)
    with pytest.raises(Unauthenticated, match="revoked"):
        authenticator.identify_in_memory(header)


def test_the_event_loop_check_leaves_a_street_workers_communities_to_identify(
    ticket_database: Database, codec: TokenCodec
) -> None:
    authenticator = Authenticator(codec, Revocations(ticket_database, refresh_seconds=15, clock=Clock(0.0)))
    token, _ = codec.issue(
        TokenKind.WORKER, "w-8", ttl=AN_HOUR, party="street_office", street="xizhu", role=Role.WORKER
    )
    authenticator.identify(f"Bearer {token}")

    assert authenticator.identify_in_memory(f"Bearer {token}") is None


def test_refresh_seconds_zero_reads_the_database_on_every_check(ticket_database: Database, codec: TokenCodec) -> None:
    intake = Revocations(ticket_database, refresh_seconds=0, clock=Clock(0.0))
    _, claims = worker_claims(codec, "w-7")
    assert not intake.is_revoked(claims)
    Revocations(ticket_database).revoke("worker", "w-7", actor=OPERATOR, now=claims.issued_at)
    assert intake.is_revoked(claims)


def test_concurrent_checks_at_expiry_read_the_table_once(
    ticket_database: Database, codec: TokenCodec, monkeypatch: pytest.MonkeyPatch
) -> None:
    intake = Revocations(ticket_database, refresh_seconds=15, clock=Clock(0.0))
    _, claims = worker_claims(codec, "w-7")
    Revocations(ticket_database).revoke("worker", "w-7", actor=OPERATOR, now=claims.issued_at)
    reads: list[int] = []
    real_unit_of_work = ticket_database.unit_of_work

    @contextmanager
    def slow_unit_of_work() -> Iterator[Session]:
        reads.append(1)
        time.sleep(0.2)  # long enough for every other thread to arrive while this read is under way
        with real_unit_of_work() as session:
            yield session

    monkeypatch.setattr(ticket_database, "unit_of_work", slow_unit_of_work)
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: intake.is_revoked(claims), range(8)))
    assert answers == [True] * 8
    assert len(reads) == 1


def _rename_table(database: Database, old: str, new: str) -> None:
    with database.engine.begin() as connection:
        connection.execute(text(f"ALTER TABLE {old} RENAME TO {new}"))


def test_a_failed_refresh_keeps_the_last_snapshot_and_retries_after_the_interval(
    ticket_database: Database, codec: TokenCodec, caplog: pytest.LogCaptureFixture
) -> None:
    refresh = Clock(0.0)
    intake = Revocations(ticket_database, refresh_seconds=15, clock=refresh)
    operator = Revocations(ticket_database)
    _, leaving = worker_claims(codec, "w-7")
    _, colleague = worker_claims(codec, "w-8")
    operator.revoke("worker", "w-7", actor=OPERATOR, now=leaving.issued_at)
    assert intake.is_revoked(leaving)

    _rename_table(ticket_database, "revoked_subjects", "revoked_subjects_away")  # every read now fails
    refresh.now += 15
    with caplog.at_level(logging.WARNING, logger="services.intake.auth.revocations"):
        assert intake.is_revoked(leaving)
        assert not intake.is_revoked(colleague)  # within the interval: no second attempt
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert warnings == ["revoked token subjects not re-read; keeping the last 1"]

    _rename_table(ticket_database, "revoked_subjects_away", "revoked_subjects")
    operator.revoke("worker", "w-8", actor=OPERATOR, now=colleague.issued_at)
    refresh.now += 14
    assert not intake.is_revoked(colleague)
    refresh.now += 1  # the interval after the failed attempt: read again, and this time it works
    assert intake.is_revoked(colleague)
    assert intake.is_revoked(leaving)


def test_revoke_refuses_what_no_token_could_carry(ticket_database: Database) -> None:
    revocations = Revocations(ticket_database)
    now = at(START)
    with pytest.raises(InvalidArgument, match="kind"):
        revocations.revoke("admin", "w-7", actor=OPERATOR, now=now)
    with pytest.raises(InvalidArgument, match="subject"):
        revocations.revoke("worker", "w" * 129, actor=OPERATOR, now=now)
    with pytest.raises(InvalidArgument, match="actor"):
        revocations.revoke("worker", "w-7", actor="", now=now)
    with pytest.raises(ValueError, match="naive"):
        revocations.revoke("worker", "w-7", actor=OPERATOR, now=datetime(2027, 1, 15, 8, 0))  # no zone
    assert revocations.current() == []


def test_the_cli_revokes_and_lists(
    ticket_database: Database, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LINLI_INTAKE_DATABASE_URL", ticket_database.engine.url.render_as_string(hide_password=False))
    _, before = TokenCodec.from_settings(AuthSettings()).issue(TokenKind.RESIDENT, "openid-1", ttl=AN_HOUR)
    assert linli(["token", "revocations"]) == 0
    assert capsys.readouterr().out == "no revoked subjects\n"

    assert linli(["token", "revoke", "--kind", "resident", "--subject", "openid-1", "--reason", "token leaked"]) == 0
    printed = capsys.readouterr().out
    [revocation] = Revocations(ticket_database).current()
    assert printed == (
        f"revoked resident openid-1: its tokens issued at or before {revocation.revoked_before.isoformat()} "
        "are refused\n"
    )
    assert (revocation.kind, revocation.reason) == (TokenKind.RESIDENT, "token leaked")
    assert revocation.actor.startswith("operator")
    assert Revocations(ticket_database).is_revoked(before)

    argv = ["token", "revoke", "--kind", "worker", "--subject", "w-7", "--actor", "ops-2", "--reason", "left\nus"]
    assert linli(argv) == 0
    capsys.readouterr()
    assert linli(["token", "revocations"]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    assert header.split() == ["kind", "subject", "revoked_before", "actor", "reason"]
    assert [row.split()[:2] for row in rows] == [["worker", "w-7"], ["resident", "openid-1"]]
    assert rows[0].split()[3:] == ["ops-2", "left", "us"]  # the reason on the row's one line


def test_the_cli_refuses_bad_arguments_with_exit_2(
    ticket_database: Database, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LINLI_INTAKE_DATABASE_URL", ticket_database.engine.url.render_as_string(hide_password=False))
    with pytest.raises(SystemExit) as exited:
        linli(["token", "revoke", "--kind", "worker"])
    assert exited.value.code == 2
    assert "the following arguments are required: --subject" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        linli(["token", "revoke", "--kind", "admin", "--subject", "w-7"])
    assert exited.value.code == 2
    assert "--kind" in capsys.readouterr().err
    assert linli(["token", "revoke", "--kind", "worker", "--subject", "w" * 129]) == 2
    assert "linli token revoke: subject: must be 1-128 printable characters" in capsys.readouterr().err
    assert Revocations(ticket_database).current() == []


@pytest.fixture
def grpc_intake(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, codec: TokenCodec
) -> Iterator[tuple[Database, intake_pb2_grpc.IntakeServiceStub]]:
    """Intake's gRPC server as `linli serve intake` builds it, re-reading the revocations on every call."""
    monkeypatch.setenv("LINLI_AUTH_REVOCATION_REFRESH_SECONDS", "0")
    with (
        sqlite_intake(tmp_path, limiter=RateLimiter.unlimited(), codec=codec) as running,
        grpc.insecure_channel(f"127.0.0.1:{running.grpc.port}") as channel,
    ):
        yield running.database, intake_pb2_grpc.IntakeServiceStub(channel)
        running.database.dispose()


def test_grpc_answers_unauthenticated_for_a_revoked_token(
    grpc_intake: tuple[Database, intake_pb2_grpc.IntakeServiceStub], codec: TokenCodec
) -> None:
    database, stub = grpc_intake
    leaving = bearer_metadata(worker_claims(codec, "w-7")[0])
    colleague = bearer_metadata(worker_claims(codec, "w-8")[0])
    request = intake_pb2.ListTicketsRequest(community=COMMUNITY)
    assert list(stub.ListTickets(request, timeout=5, metadata=leaving).tickets) == []

    Revocations(database).revoke("worker", "w-7", reason="left", actor=OPERATOR, now=at(START))
    with pytest.raises(grpc.RpcError) as raised:
        stub.ListTickets(request, timeout=5, metadata=leaving)
    assert (raised.value.code(), raised.value.details()) == (grpc.StatusCode.UNAUTHENTICATED, "token revoked")
    assert list(stub.ListTickets(request, timeout=5, metadata=colleague).tickets) == []


def test_unrevoking_accepts_the_subjects_tokens_again_until_they_expire(
    ticket_database: Database, wall: Clock, codec: TokenCodec
) -> None:
    refresh = Clock(0.0)
    client = http_client(ticket_database, codec, Revocations(ticket_database, refresh_seconds=15, clock=refresh))
    leaving = worker_headers(codec, "w-7")
    short, _ = codec.issue(
        TokenKind.WORKER,
        "w-7",
        ttl=timedelta(minutes=1),
        party="property_manager",
        community=COMMUNITY,
        role=Role.WORKER,
    )
    operator = Revocations(ticket_database)  # `linli token revoke` and `unrevoke`: another process
    operator.revoke("worker", "w-7", reason="phone lost", actor=OPERATOR, now=at(wall.now))
    assert client.get("/v1/tickets", headers=leaving).status_code == 401

    lifted = operator.unrevoke("worker", "w-7")
    assert (lifted.kind, lifted.subject, lifted.reason, lifted.revoked_before) == (
        TokenKind.WORKER,
        "w-7",
        "phone lost",
        at(START),
    )
    assert operator.current() == []
    refresh.now += 14.9
    assert client.get("/v1/tickets", headers=leaving).status_code == 401  # intake has not re-read the table yet
    refresh.now += 0.1
    assert client.get("/v1/tickets", headers=leaving).status_code == 200
    assert client.get("/v1/tickets", headers=bearer(short)).status_code == 200

    wall.now += 120  # lifting a revocation revives no expired token
    expired = client.get("/v1/tickets", headers=bearer(short))
    assert (expired.status_code, expired.json()["error"]["message"]) == (401, "the token expired; sign in again")
    assert client.get("/v1/tickets", headers=leaving).status_code == 200


def test_the_process_that_unrevokes_accepts_the_tokens_at_once(ticket_database: Database, codec: TokenCodec) -> None:
    revocations = Revocations(ticket_database, refresh_seconds=3600, clock=Clock(0.0))
    _, claims = worker_claims(codec, "w-7")
    revocations.revoke("worker", "w-7", actor=OPERATOR, now=claims.issued_at)
    assert revocations.is_revoked(claims)
    revocations.unrevoke(TokenKind.WORKER, "w-7")
    assert not revocations.is_revoked(claims)


def test_unrevoke_of_what_is_not_revoked_is_not_found(ticket_database: Database) -> None:
    revocations = Revocations(ticket_database)
    revocations.revoke("worker", "w-7", actor=OPERATOR, now=at(START))
    with pytest.raises(NotFound, match="resident 'w-7' is not revoked"):
        revocations.unrevoke("resident", "w-7")  # the same id under another kind is another subject
    with pytest.raises(NotFound, match="worker 'w-8' is not revoked"):
        revocations.unrevoke("worker", "w-8")
    with pytest.raises(InvalidArgument, match="kind"):
        revocations.unrevoke("admin", "w-7")
    assert [r.subject for r in revocations.current()] == ["w-7"]


def test_prune_deletes_only_the_revocations_whose_tokens_have_all_expired(ticket_database: Database) -> None:
    revocations = Revocations(ticket_database, refresh_seconds=0)
    revocations.revoke("worker", "w-old", actor=OPERATOR, now=at(START))
    revocations.revoke("resident", "openid-old", actor=OPERATOR, now=at(START))
    revocations.revoke("worker", "w-recent", actor=OPERATOR, now=at(START + 86_400))
    # The longest token any kind can carry (`linli token issue --ttl-days 366`, residents' too), issued in the
    # revocation's second, is refused until it expires...
    longest = TokenCodec(AuthSettings().signing_keys(), clock=Clock(START))
    token, resident = longest.issue(TokenKind.RESIDENT, "openid-old", ttl=MAX_TTL)
    boundary = at(START) + REVOCATION_LIFETIME
    assert revocations.prune(now=boundary) == 0
    assert revocations.is_revoked(resident)
    assert revocations.prune(now=at(START + 30 * 86_400)) == 0  # a resident's 24 h login token is not the longest

    # ...and once it has expired (with the clock skew to spare), the revocation can refuse nothing any more.
    with pytest.raises(Unauthenticated, match="expired"):
        TokenCodec(AuthSettings().signing_keys(), clock=Clock(resident.expires_at.timestamp())).verify(token)
    assert revocations.prune(now=boundary + timedelta(seconds=1)) == 2
    assert [(r.kind, r.subject) for r in revocations.current()] == [(TokenKind.WORKER, "w-recent")]
    assert revocations.prune(now=boundary + timedelta(seconds=1)) == 0
    with pytest.raises(ValueError, match="naive"):
        revocations.prune(now=datetime(2027, 1, 15, 8, 0))


def test_revoking_a_subject_whose_row_an_unrevoke_just_deleted_still_revokes(
    ticket_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    revocations = Revocations(ticket_database)
    revocations.revoke("worker", "w-7", actor=OPERATOR, now=at(START))
    real_unit_of_work = ticket_database.unit_of_work
    raced: list[int] = []

    @contextmanager
    def unrevoked_meanwhile() -> Iterator[Session]:
        with real_unit_of_work() as session:
            if not raced:  # the first attempt read the row; another operator deletes it before the update
                raced.append(1)
                row = session.get(RevokedSubject, ("worker", "w-7"))
                assert row is not None
                with ticket_database.engine.begin() as connection:
                    connection.execute(text("DELETE FROM revoked_subjects"))
            yield session

    monkeypatch.setattr(ticket_database, "unit_of_work", unrevoked_meanwhile)
    again = revocations.revoke("worker", "w-7", reason="again", actor=OPERATOR, now=at(START + 60))
    assert (again.revoked_before, again.reason) == (at(START + 60), "again")
    monkeypatch.undo()
    assert [(r.subject, r.reason) for r in revocations.current()] == [("w-7", "again")]


def test_the_cli_unrevokes_and_prunes(
    ticket_database: Database, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LINLI_INTAKE_DATABASE_URL", ticket_database.engine.url.render_as_string(hide_password=False))
    operator = Revocations(ticket_database)
    now = datetime.now(UTC)
    operator.revoke("worker", "w-left-long-ago", actor=OPERATOR, now=now - timedelta(days=400))
    recent = operator.revoke("worker", "w-7", actor=OPERATOR, now=now)

    assert linli(["token", "unrevoke", "--kind", "worker", "--subject", "w-7"]) == 0
    assert capsys.readouterr().out == (
        f"unrevoked worker w-7: its tokens issued at or before {recent.revoked_before.isoformat()} are accepted "
        "again until they expire\n"
    )
    assert linli(["token", "unrevoke", "--kind", "worker", "--subject", "w-7"]) == 1
    assert capsys.readouterr().err == (
        "linli token unrevoke: worker 'w-7' is not revoked; `linli token revocations` lists the revoked subjects\n"
    )
    with pytest.raises(SystemExit) as exited:
        linli(["token", "unrevoke", "--kind", "worker"])
    assert exited.value.code == 2
    capsys.readouterr()

    assert linli(["token", "revocations", "--prune"]) == 0
    assert capsys.readouterr().out == "pruned 1 revocation whose tokens have all expired\n"
    assert operator.current() == []
    assert linli(["token", "revocations", "--prune"]) == 0
    assert capsys.readouterr().out == "pruned 0 revocations whose tokens have all expired\n"
