"""Engines whose pool checks a connection before use only when it sat idle: a busy service pays no ping a query.

SQLAlchemy's `pool_pre_ping` runs a round trip to the database on every checkout, which on the triage path was
several round trips per ticket (intake's submit, the worker's two transactions, retrieval's store read). What it
guards against, a server that restarted or dropped a connection, shows on connections that sat in the pool; a
connection handed back a moment ago was working a moment ago. So a connection idle longer than `idle_seconds` is
pinged as before, and a failed ping makes the pool discard it and take another; a recently used one is not.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

# Long enough that connections cycling under load are never pinged, short enough that an idle service's first query
# after a database restart still finds a fresh connection.
PING_AFTER_IDLE_SECONDS = 1.0
_RETURNED_AT = "linli_returned_at"


def pinging_engine(url: str, *, idle_seconds: float = PING_AFTER_IDLE_SECONDS, **options: Any) -> Engine:
    """`create_engine(url, **options)` with a ping on checkout of connections idle for over `idle_seconds`."""
    engine = create_engine(url, **options)
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _returned(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info[_RETURNED_AT] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _taken(dbapi_connection: Any, record: ConnectionPoolEntry, proxy: PoolProxiedConnection) -> None:
        returned = record.info.get(_RETURNED_AT)
        if returned is None or time.monotonic() - returned <= idle_seconds:
            return  # new, or just used
        try:
            alive = dialect.do_ping(dbapi_connection)
        except Exception as error:  # the driver's own error for a dead connection
            raise exc.DisconnectionError(str(error)) from error
        if not alive:
            raise exc.DisconnectionError("the database did not answer the ping")

    return engine
