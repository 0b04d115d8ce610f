"""The pool pings only connections that sat idle: a dropped connection is replaced, a busy one costs no ping."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, create_engine, text

from linli.sql_pool import pinging_engine


def counting_pings(engine: Engine) -> list[float]:
    """Records when the dialect pings (the same call pool_pre_ping makes)."""
    pings: list[float] = []
    original = engine.dialect.do_ping

    def do_ping(dbapi_connection: Any) -> bool:
        pings.append(time.monotonic())
        return bool(original(dbapi_connection))

    engine.dialect.do_ping = do_ping  # type: ignore[method-assign]
    return pings


def backend_pid(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_connections_used_back_to_back_are_not_pinged(database_url: str) -> None:
    engine = pinging_engine(database_url, idle_seconds=60)
    pings = counting_pings(engine)
    for _ in range(20):
        with engine.connect() as connection:
            assert connection.execute(text("SELECT 1")).scalar_one() == 1
    assert pings == []
    engine.dispose()


def test_a_connection_idle_past_the_limit_is_pinged_first(database_url: str) -> None:
    engine = pinging_engine(database_url, idle_seconds=0.05)
    pings = counting_pings(engine)
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    assert pings == []  # a new connection needs no ping
    time.sleep(0.1)
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    assert len(pings) == 1
    engine.dispose()


def test_a_connection_the_server_dropped_while_idle_is_replaced_without_an_error(postgres_url: str) -> None:
    engine = pinging_engine(postgres_url, idle_seconds=0.05, pool_size=1)
    dropped = backend_pid(engine)
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:  # what a database restart does to every pooled connection
        assert connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": dropped}).scalar_one()
    admin.dispose()
    time.sleep(0.1)
    assert backend_pid(engine) != dropped  # the ping failed, the pool took a new connection, the query ran
    engine.dispose()


def test_a_pinged_connection_is_left_outside_any_transaction(postgres_url: str) -> None:
    engine = pinging_engine(postgres_url, idle_seconds=0.05, pool_size=1)
    pings = counting_pings(engine)
    pid = backend_pid(engine)
    time.sleep(0.1)
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with engine.connect(), admin.connect() as watcher:  # checked out: pinged, nothing run yet
        state = watcher.execute(text("SELECT state FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}).scalar_one()
    assert len(pings) == 1
    assert state == "idle"  # not "idle in transaction": the ping would otherwise hold a snapshot open
    admin.dispose()
    engine.dispose()
