"""SMS login: phone numbers, hashed single-use codes, expiry on a fake clock, the lock after wrong codes, the limits
per phone and per address, and what reaches the logs (never a code or a number in production)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import select

from linli.errors import InvalidArgument, RateLimited, Unauthenticated, Unavailable
from linli.logs import JsonFormatter
from linli.tokens import TokenCodec, TokenKind
from services.intake.auth.models import SmsCode
from services.intake.auth.phones import PhoneIds, mask_phone, normalize_phone
from services.intake.auth.settings import SmsSettings
from services.intake.auth.sms_login import SmsKeys, SmsLogin, SmsWiring, create_sms_login
from services.intake.auth.sms_providers import DevSmsProvider
from services.intake.database import Database, alembic_config, head_revision
from services.intake.ratelimit import RateLimiter

pytest_plugins = ["tests.unit.intake.database"]

PHONE = "13812345678"
OTHER_PHONE = "15900001111"
ADDRESS = "203.0.113.7"
SIGNING_KEY = b"k" * 32
PHONE_KEY = b"p" * 32


class ManualClock:
    """A clock that stands still until the test moves it."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)  # 10:00 in China

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class RecordingProvider:
    """Keeps the codes it was asked to text; can be made to fail like a provider that is down."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.broken = False

    def send_code(self, phone: str, code: str) -> None:
        if self.broken:
            raise Unavailable("短信发送失败,请稍后再试")
        self.sent.append((phone, code))

    def last_code(self) -> str:
        return self.sent[-1][1]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def provider() -> RecordingProvider:
    return RecordingProvider()


def sms_login(database: Database, provider: object, clock: ManualClock, **settings: object) -> SmsLogin:
    return SmsLogin(
        database,
        provider,  # type: ignore[arg-type]
        TokenCodec([SIGNING_KEY]),
        SmsKeys(b"c" * 32, PhoneIds(PHONE_KEY)),
        SmsSettings.model_validate(settings),
        limiter=RateLimiter.unlimited(),
        token_ttl=timedelta(hours=1),
        clock=clock,
    )


@pytest.fixture
def login(sqlite_ticket_database: Database, provider: RecordingProvider, clock: ManualClock) -> SmsLogin:
    return sms_login(sqlite_ticket_database, provider, clock)


def stored(database: Database, phone: str = PHONE) -> SmsCode:
    with database.unit_of_work() as session:
        row = session.scalars(select(SmsCode).where(SmsCode.phone_key == PhoneIds(PHONE_KEY).digest(phone))).one()
        session.expunge(row)
        return row


@pytest.mark.parametrize(
    ("typed", "normalized"),
    [("13812345678", "13812345678"), ("+86 138-1234-5678", "13812345678"), ("0086 19912345678", "19912345678")],
)
def test_mainland_mobiles_are_accepted_in_the_ways_people_type_them(typed: str, normalized: str) -> None:
    assert normalize_phone(typed) == normalized


@pytest.mark.parametrize("typed", ["12812345678", "1381234567", "138123456789", "021-62345678", "abc", ""])
def test_other_numbers_are_refused_in_chinese(typed: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        normalize_phone(typed)
    assert refused.value.violations[0].field == "phone"
    assert "手机号" in refused.value.violations[0].description


def test_a_phone_is_masked_and_its_id_is_keyed_and_stable() -> None:
    assert mask_phone(PHONE) == "138****5678"
    ids = PhoneIds(PHONE_KEY)
    assert ids.resident_id(PHONE) == ids.resident_id(PHONE)
    assert ids.resident_id(PHONE).startswith("phone:")
    assert PHONE not in ids.resident_id(PHONE)
    assert ids.resident_id(PHONE) != PhoneIds(b"q" * 32).resident_id(PHONE)
    assert ids.resident_id(PHONE) != ids.resident_id(OTHER_PHONE)


def test_the_right_code_gives_a_resident_token_without_the_number(login: SmsLogin, provider: RecordingProvider) -> None:
    assert login.send_code("+86 138 1234 5678", ADDRESS) == 60
    assert provider.sent[0][0] == PHONE
    assert len(provider.last_code()) == 6
    assert provider.last_code().isdigit()

    session = login.login(PHONE, provider.last_code())

    claims = TokenCodec([SIGNING_KEY]).verify(session.token)
    assert claims.kind is TokenKind.RESIDENT
    assert claims.subject == session.resident_id == PhoneIds(PHONE_KEY).resident_id(PHONE)
    assert PHONE not in session.token


def test_the_code_is_stored_only_as_its_hmac_and_works_once(
    login: SmsLogin, provider: RecordingProvider, sqlite_ticket_database: Database
) -> None:
    login.send_code(PHONE, ADDRESS)
    code = provider.last_code()
    row = stored(sqlite_ticket_database)
    assert row.code_hash == login.code_hash(row.phone_key, code)
    assert code not in row.code_hash
    assert PHONE not in row.phone_key
    # Bound to the phone: the same digits hash differently for another number.
    assert login.code_hash(PhoneIds(PHONE_KEY).digest(OTHER_PHONE), code) != row.code_hash

    login.login(PHONE, code)
    with pytest.raises(Unauthenticated):
        login.login(PHONE, code)


def test_a_code_expires_after_five_minutes(login: SmsLogin, provider: RecordingProvider, clock: ManualClock) -> None:
    login.send_code(PHONE, ADDRESS)
    clock.advance(seconds=299)
    login.login(PHONE, provider.last_code())

    clock.advance(seconds=60)
    login.send_code(PHONE, ADDRESS)
    clock.advance(seconds=301)
    with pytest.raises(Unauthenticated, match="过期"):
        login.login(PHONE, provider.last_code())


def test_five_wrong_codes_lock_the_phone_for_fifteen_minutes(
    ticket_database: Database, provider: RecordingProvider, clock: ManualClock
) -> None:
    login = sms_login(ticket_database, provider, clock)
    login.send_code(PHONE, ADDRESS)
    right = provider.last_code()
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    for left in (4, 3, 2, 1):
        with pytest.raises(Unauthenticated, match=f"还可以再试 {left} 次"):
            login.login(PHONE, wrong)
    with pytest.raises(RateLimited) as locked:
        login.login(PHONE, wrong)
    assert locked.value.retry_after_seconds == 15 * 60

    # Locked: even the right code, and any new code, wait for the lock to end.
    with pytest.raises(RateLimited):
        login.login(PHONE, right)
    with pytest.raises(RateLimited):
        login.send_code(PHONE, ADDRESS)
    # Another phone is not affected.
    login.send_code(OTHER_PHONE, ADDRESS)

    clock.advance(minutes=15, seconds=1)
    login.send_code(PHONE, ADDRESS)
    assert login.login(PHONE, provider.last_code()).resident_id.startswith("phone:")


def test_one_code_a_minute_per_phone(login: SmsLogin, clock: ManualClock) -> None:
    login.send_code(PHONE, ADDRESS)
    clock.advance(seconds=20)
    with pytest.raises(RateLimited) as waiting:
        login.send_code(PHONE, ADDRESS)
    assert waiting.value.retry_after_seconds == 40
    login.send_code(OTHER_PHONE, ADDRESS)
    clock.advance(seconds=40)
    login.send_code(PHONE, ADDRESS)


def test_ten_codes_a_day_per_phone_until_midnight_in_china(login: SmsLogin, clock: ManualClock) -> None:
    for _ in range(10):
        login.send_code(PHONE, ADDRESS)
        clock.advance(seconds=61)
    with pytest.raises(RateLimited, match="明天") as spent:
        login.send_code(PHONE, ADDRESS)
    midnight_in_china = datetime(2026, 12, 6, 16, 0, tzinfo=UTC)
    assert spent.value.retry_after_seconds == int((midnight_in_china - clock.now).total_seconds())
    clock.now = midnight_in_china
    login.send_code(PHONE, ADDRESS)


def test_codes_per_client_address_are_limited_per_hour(
    sqlite_ticket_database: Database, provider: RecordingProvider, clock: ManualClock
) -> None:
    login = sms_login(sqlite_ticket_database, provider, clock, codes_per_address_per_hour=2)
    login.send_code("13800000001", ADDRESS)
    login.send_code("13800000002", ADDRESS)
    with pytest.raises(RateLimited, match="太频繁"):
        login.send_code("13800000003", ADDRESS)
    login.send_code("13800000003", "198.51.100.9")


def test_a_provider_failure_records_nothing_so_the_resident_may_retry_at_once(
    login: SmsLogin, provider: RecordingProvider, sqlite_ticket_database: Database
) -> None:
    provider.broken = True
    with pytest.raises(Unavailable):
        login.send_code(PHONE, ADDRESS)
    row = stored(sqlite_ticket_database)
    assert row.code_hash == ""
    assert row.sent_today == 0
    assert row.last_sent_at is None
    provider.broken = False
    login.send_code(PHONE, ADDRESS)


def test_malformed_codes_are_refused_before_counting(login: SmsLogin, provider: RecordingProvider) -> None:
    login.send_code(PHONE, ADDRESS)
    for bad in ("12345", "abcdef", "1234567"):
        with pytest.raises(InvalidArgument):
            login.login(PHONE, bad)
    assert login.login(PHONE, provider.last_code())


def intake_log_lines(caplog: pytest.LogCaptureFixture) -> str:
    """The records as intake writes them (JSON lines through linli.logs, which scrubs personal data)."""
    formatter = JsonFormatter("intake")
    return "\n".join(formatter.format(record) for record in caplog.records)


def test_in_production_no_log_line_holds_the_code_or_the_number(
    sqlite_ticket_database: Database, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    class FailingOnce(RecordingProvider):
        def send_code(self, phone: str, code: str) -> None:
            from services.intake.auth.sms_providers import provider_failure

            if not self.sent:
                self.sent.append((phone, code))
                raise provider_failure("tencent", phone, "FailedOperation.Test", f"refused {phone}")
            super().send_code(phone, code)

    provider = FailingOnce()
    login = sms_login(sqlite_ticket_database, provider, clock)
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(Unavailable):
            login.send_code(PHONE, ADDRESS)
        login.send_code(PHONE, ADDRESS)
        clock.advance(seconds=1)
        with pytest.raises(Unauthenticated):
            login.login(PHONE, "000000" if provider.last_code() != "000000" else "111111")
        login.login(PHONE, provider.last_code())
    written = intake_log_lines(caplog)
    assert "138****5678" in written  # the failure is logged, masked
    assert PHONE not in written
    for _, code in provider.sent:
        assert code not in written


def test_the_dev_provider_shows_the_code_with_a_masked_number(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        DevSmsProvider().send_code(PHONE, "246810")
    printed = capsys.readouterr().out
    assert "246810" in printed
    assert "138****5678" in printed
    assert PHONE not in printed
    assert PHONE not in intake_log_lines(caplog)


PUBLIC_HOST = "0.0.0.0"  # noqa: S104 - the address a production intake binds


def wiring(database: Database, host: str = "127.0.0.1") -> SmsWiring:
    codec = TokenCodec([SIGNING_KEY])
    return SmsWiring(database, codec, lambda: SIGNING_KEY, RateLimiter.unlimited(), timedelta(hours=1), host)


def test_choosing_the_provider(sqlite_ticket_database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    assert create_sms_login(SmsSettings(provider="off"), wiring(sqlite_ticket_database)) is None
    assert create_sms_login(SmsSettings(provider="dev"), wiring(sqlite_ticket_database)) is not None
    with pytest.raises(RuntimeError, match="loopback"):
        create_sms_login(SmsSettings(provider="dev"), wiring(sqlite_ticket_database, host=PUBLIC_HOST))
    monkeypatch.setenv("LINLI_SMS_SECRET_KEY", "s" * 32)
    tencent = {"provider": "tencent", "secret_id": "AKID", "sign_name": "邻里", "template_id": "1", "sdk_app_id": "14"}
    with pytest.raises(RuntimeError, match="LINLI_SMS_PHONE_ID_SECRET"):
        create_sms_login(SmsSettings.model_validate(tencent), wiring(sqlite_ticket_database, host=PUBLIC_HOST))
    with pytest.raises(RuntimeError, match="LINLI_SMS_SDK_APP_ID"):
        create_sms_login(SmsSettings.model_validate({**tencent, "sdk_app_id": ""}), wiring(sqlite_ticket_database))
    monkeypatch.setenv("LINLI_SMS_PHONE_ID_SECRET", "i" * 32)
    production = create_sms_login(SmsSettings.model_validate(tencent), wiring(sqlite_ticket_database, host=PUBLIC_HOST))
    assert production is not None


def test_the_sms_codes_migration_goes_down_and_up(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path}/sms.sqlite")
    database.upgrade_schema()
    with database.engine.begin() as connection:
        assert "sms_codes" in sa.inspect(connection).get_table_names()
        command.downgrade(alembic_config(connection), "0006")
        tables = sa.inspect(connection).get_table_names()
        assert "sms_codes" not in tables
        assert "meeting_items" in tables  # only this revision's table goes
    assert database.upgrade_schema() == head_revision()
    database.dispose()


def test_rows_of_idle_phones_are_pruned_when_a_new_phone_comes(
    login: SmsLogin, clock: ManualClock, sqlite_ticket_database: Database
) -> None:
    ids = PhoneIds(PHONE_KEY)
    recent, locked = "13800000009", "13800000008"
    login.send_code(PHONE, ADDRESS)
    login.send_code(locked, ADDRESS)
    clock.advance(days=1)
    login.send_code(recent, ADDRESS)
    clock.advance(days=1, seconds=1)
    with sqlite_ticket_database.unit_of_work() as session:  # as if its lock had been set for long
        session.get_one(SmsCode, ids.digest(locked)).locked_until = clock.now + timedelta(hours=1)

    login.send_code(OTHER_PHONE, ADDRESS)

    with sqlite_ticket_database.unit_of_work() as session:
        keys = set(session.scalars(select(SmsCode.phone_key)))
    assert keys == {ids.digest(recent), ids.digest(locked), ids.digest(OTHER_PHONE)}
