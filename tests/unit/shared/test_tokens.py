"""Signed tokens: what verifies, what is refused (expired, tampered, wrong key, malformed), rotation, the CLI."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from datetime import timedelta

import pytest

from linli.errors import InvalidArgument, Unauthenticated
from linli.settings import AuthSettings
from linli.tokens import Role, TokenCodec, TokenKind, bearer_token
from services.cli.devstack import console_tokens
from services.cli.main import main as linli
from services.intake.auth.tokens import issue_token
from tests.tokens import environment_codec

NOW = 1_800_000_000.0
HOUR = timedelta(hours=1)


def key() -> bytes:
    return secrets.token_hex(32).encode()


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def test_a_worker_token_round_trips_its_claims() -> None:
    codec = TokenCodec([key()], clock=Clock())
    token, issued = codec.issue(
        TokenKind.WORKER, "w-7", ttl=HOUR, party="property_manager", community="恒康居民区", role=Role.DISPATCHER
    )
    claims = codec.verify(token)
    assert claims == issued
    assert (claims.kind, claims.subject, claims.party, claims.community, claims.role) == (
        TokenKind.WORKER,
        "w-7",
        "property_manager",
        "恒康居民区",
        Role.DISPATCHER,
    )
    assert claims.expires_at.timestamp() - claims.issued_at.timestamp() == 3600
    assert not claims.is_admin


def test_an_expired_token_is_refused() -> None:
    clock = Clock()
    codec = TokenCodec([key()], clock=clock)
    token, _ = codec.issue(TokenKind.RESIDENT, "openid-1", ttl=HOUR)
    clock.now += 3599
    assert codec.verify(token).subject == "openid-1"
    clock.now += 1
    with pytest.raises(Unauthenticated, match="expired"):
        codec.verify(token)


def test_a_token_from_the_future_is_refused() -> None:
    clock = Clock()
    token, _ = TokenCodec([key_ := key()], clock=clock).issue(TokenKind.RESIDENT, "r", ttl=HOUR)
    clock.now -= 600  # the verifying host's clock is ten minutes behind
    with pytest.raises(Unauthenticated, match="future"):
        TokenCodec([key_], clock=clock).verify(token)


def test_a_token_verified_before_is_not_signed_again_but_its_times_are_checked_again() -> None:
    clock = Clock()
    codec = TokenCodec([key()], clock=clock)
    token, _ = codec.issue(TokenKind.SERVICE, "routing", ttl=HOUR)
    assert codec.verify(token).subject == "routing"
    signed: list[str] = []

    def sign(key: bytes, encoded: str) -> bytes:
        signed.append(encoded)
        return b""

    codec._sign = sign  # type: ignore[method-assign]
    assert codec.verify(token).subject == "routing"
    assert signed == []
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    with pytest.raises(Unauthenticated, match="signature"):
        codec.verify(tampered)  # another text is verified in full
    clock.now -= 600  # the clock was set back: the token is from the future again
    with pytest.raises(Unauthenticated, match="future"):
        codec.verify(token)
    clock.now += 600 + 3600
    with pytest.raises(Unauthenticated, match="expired"):
        codec.verify(token)


def test_tampered_tokens_are_refused() -> None:
    codec = TokenCodec([key()], clock=Clock())
    token, _ = codec.issue(TokenKind.WORKER, "w-7", ttl=HOUR, party="property_manager", role=Role.WORKER)
    payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["role"] = "admin"  # a worker promoting themselves
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    for bad in (f"{forged}.{signature}", f"{payload}.{flipped}", f"{payload}.", token + "x", token.replace(".", "")):
        with pytest.raises(Unauthenticated):
            codec.verify(bad)


@pytest.mark.parametrize(
    "bad",
    ["", "a.b.c", "not a token", "....", "a+b/c=.sig", "x" * 5000],
    ids=["empty", "3 parts", "words", "dots", "b64", "long"],
)
def test_malformed_tokens_are_refused(bad: str) -> None:
    with pytest.raises(Unauthenticated):
        TokenCodec([key()]).verify(bad)


def test_rotation_new_key_signs_old_keys_verify_until_retired() -> None:
    old, new = key(), key()
    before = TokenCodec([old], clock=Clock()).issue(TokenKind.RESIDENT, "r-1", ttl=HOUR)[0]
    rotated = TokenCodec([new, old], clock=Clock())
    after = rotated.issue(TokenKind.RESIDENT, "r-1", ttl=HOUR)[0]
    assert rotated.verify(before).subject == rotated.verify(after).subject == "r-1"
    assert TokenCodec([old], clock=Clock()).verify(before).subject == "r-1"
    with pytest.raises(Unauthenticated, match="signature"):
        TokenCodec([old], clock=Clock()).verify(after)  # a replica not yet given the new key
    retired = TokenCodec([new], clock=Clock())
    assert retired.verify(after).subject == "r-1"
    with pytest.raises(Unauthenticated, match="retired"):
        retired.verify(before)


@pytest.mark.parametrize(
    ("kind", "fields"),
    [
        (TokenKind.WORKER, {"party": ""}),
        (TokenKind.WORKER, {"party": "物业"}),
        (TokenKind.RESIDENT, {"party": "property_manager"}),
        (TokenKind.SERVICE, {"role": Role.ADMIN}),
    ],
)
def test_fields_that_do_not_fit_the_kind_are_refused(kind: TokenKind, fields: dict[str, object]) -> None:
    codec = TokenCodec([key()])
    role = fields.get("role", Role.WORKER if kind is TokenKind.WORKER else None)
    with pytest.raises(InvalidArgument):
        codec.issue(kind, "s", ttl=HOUR, party=str(fields.get("party", "")), role=role)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="ttl"):
        codec.issue(TokenKind.RESIDENT, "r", ttl=timedelta(days=400))


def test_admins_and_services_are_admins() -> None:
    codec = TokenCodec([key()])
    admin = codec.issue(TokenKind.WORKER, "a", ttl=HOUR, party="street_office", role=Role.ADMIN)[1]
    service = codec.issue(TokenKind.SERVICE, "intake-worker", ttl=HOUR)[1]
    resident = codec.issue(TokenKind.RESIDENT, "r", ttl=HOUR)[1]
    assert (admin.is_admin, service.is_admin, resident.is_admin) == (True, True, False)


def test_bearer_header_parsing() -> None:
    assert bearer_token("Bearer abc") == bearer_token("bearer  abc ") == "abc"
    for header in (None, "", "Bearer", "Basic abc", "Token abc"):
        with pytest.raises(Unauthenticated):
            bearer_token(header)


def test_settings_need_long_keys_from_the_environment_only(monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = secrets.token_hex(32), secrets.token_hex(32)
    monkeypatch.setenv("LINLI_AUTH_SECRETS", f"{first}, {second}")
    assert AuthSettings().signing_keys() == [first.encode(), second.encode()]
    monkeypatch.setenv("LINLI_AUTH_SECRETS", f"{first},short")
    with pytest.raises(ValueError, match="at least 32") as raised:
        AuthSettings()
    assert first not in str(raised.value)  # a refused setting never prints the secrets
    with pytest.raises(ValueError, match="environment only"):
        AuthSettings(secrets=first)
    monkeypatch.delenv("LINLI_AUTH_SECRETS")
    with pytest.raises(RuntimeError, match="LINLI_AUTH_SECRETS is not set"):
        TokenCodec.from_settings(AuthSettings())


def test_issue_token_and_the_cli_sign_with_the_environment_key(capsys: pytest.CaptureFixture[str]) -> None:
    token, expires_at = issue_token(
        "worker", "w-9", party="owners_committee", community="梅林小区", role="admin", codec=environment_codec()
    )
    claims = TokenCodec.from_settings(AuthSettings()).verify(token)
    assert (claims.role, claims.community, claims.expires_at) == (Role.ADMIN, "梅林小区", expires_at)
    argv = ["token", "issue", "--kind", "worker", "--worker-id", "w-1", "--party", "street_office", "--ttl-days", "2"]
    assert linli(argv) == 0
    printed = capsys.readouterr()
    cli_claims = TokenCodec.from_settings(AuthSettings()).verify(printed.out.strip())
    assert (cli_claims.subject, cli_claims.party, cli_claims.role, cli_claims.community) == (
        "w-1",
        "street_office",
        Role.WORKER,
        "",
    )
    assert "valid until" in printed.err
    assert linli(["token", "issue", "--kind", "worker", "--party", "street_office"]) == 2
    assert "--worker-id" in capsys.readouterr().err
    assert linli(["token", "issue", "--kind", "resident", "--resident-id", "openid-7"]) == 0
    assert TokenCodec.from_settings(AuthSettings()).verify(capsys.readouterr().out.strip()).kind is TokenKind.RESIDENT


def test_the_dev_stack_prints_a_workers_and_a_dispatchers_token() -> None:
    codec = TokenCodec([key()])
    tokens = console_tokens(codec)
    worker, dispatcher = codec.verify(tokens["worker"]), codec.verify(tokens["dispatcher"])
    assert (worker.party, worker.role, worker.community) == ("property_manager", Role.WORKER, "恒康居民区")
    assert (dispatcher.role, dispatcher.community) == (Role.DISPATCHER, "恒康居民区")


def signed_payload(signing_key: bytes, payload: dict[str, object]) -> str:
    """A token of `payload` signed as the codec signs, for payloads the codec itself no longer writes."""
    encoded = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    signature = hmac.new(signing_key, encoded.encode(), hashlib.sha256).digest()
    return f"{encoded}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


def test_a_street_workers_token_carries_the_street_and_older_tokens_still_verify() -> None:
    signing_key = key()
    codec = TokenCodec([signing_key], clock=Clock())
    token, issued = codec.issue(
        TokenKind.WORKER, "w-31", ttl=HOUR, party="street_office", role=Role.WORKER, street="s1"
    )
    assert codec.verify(token) == issued
    assert (issued.street, issued.community) == ("s1", "")
    plain, _ = codec.issue(TokenKind.WORKER, "w-7", ttl=HOUR, party="property_manager", role=Role.WORKER)
    assert "street" not in json.loads(base64.urlsafe_b64decode(plain.split(".")[0] + "=="))
    # A token signed before streets existed: no `street` key at all.
    before_streets = {"v": 1, "kind": "worker", "sub": "w-7", "party": "property_manager", "community": "梅林小区"}
    old = signed_payload(signing_key, before_streets | {"role": "worker", "iat": int(NOW), "exp": int(NOW) + 60})
    assert codec.verify(old).street == ""
    assert codec.verify(old).community == "梅林小区"


def test_a_street_and_a_community_at_once_or_a_residents_street_are_refused() -> None:
    signing_key = key()
    codec = TokenCodec([signing_key], clock=Clock())
    with pytest.raises(InvalidArgument, match="not both"):
        codec.issue(TokenKind.WORKER, "w", ttl=HOUR, party="street_office", role=Role.WORKER, community="c", street="s")
    with pytest.raises(InvalidArgument):
        codec.issue(TokenKind.RESIDENT, "r-1", ttl=HOUR, street="s1")
    both = {"v": 1, "kind": "worker", "sub": "w", "party": "street_office", "community": "c", "street": "s"}
    forged = signed_payload(signing_key, both | {"role": "worker", "iat": int(NOW), "exp": int(NOW) + 60})
    with pytest.raises(Unauthenticated, match="malformed"):
        codec.verify(forged)
