"""The ticket database: the declarative Base every table is declared on, one engine per process, one unit of work per
request or task, schema by Alembic migrations."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from linli.sql_pool import pinging_engine

SQLITE_BUSY_TIMEOUT_SECONDS = 30
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
FOUNDATION_REVISION = "0001"
# Any constant will do: every intake process and worker that migrates takes this PostgreSQL advisory lock first.
MIGRATION_LOCK_KEY = 0x6C696E6C69

# Named constraints, so that migrations can refer to them on every database (SQLite included).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of the ticket database."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def alembic_config(connection: Connection | None = None) -> Config:
    """The Alembic configuration of the ticket migrations, bound to `connection` when given."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest migration."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations in {MIGRATIONS_DIR}")
    return head


DEFAULT_POOL_SIZE = 20


class Database:
    """Engine and sessions for a SQLAlchemy URL (SQLite file by default, PostgreSQL in production)."""

    def __init__(self, url: str, *, pool_size: int = DEFAULT_POOL_SIZE) -> None:
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        connect_args: dict[str, Any] = {}
        self._sqlite_path: Path | None = None
        if self.dialect == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                self._sqlite_path = Path(parsed.database)
                self._sqlite_path.parent.mkdir(parents=True, exist_ok=True)
            # The HTTP server and the Celery worker write the same file: wait for the lock instead of failing.
            connect_args["timeout"] = SQLITE_BUSY_TIMEOUT_SECONDS
        # Threads beyond the pool's size each open a connection per transaction and close it after (a PostgreSQL
        # backend started and torn down for every triage): the pool holds as many as the process runs at once.
        pool = {} if self.dialect == "sqlite" else {"pool_size": pool_size}
        self.engine: Engine = pinging_engine(url, connect_args=connect_args, **pool)
        if self.dialect == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def locks_rows(self) -> bool:
        """True where SELECT ... FOR UPDATE locks rows (PostgreSQL); SQLite serialises writers instead."""
        return self.dialect == "postgresql"

    def upgrade_schema(self) -> str:
        """Applies every pending migration (safe when several processes start at once); returns the revision.

        A database created by the foundation release (tables, no version table) is recognised and stamped with
        the foundation revision first, so its data is migrated rather than refused.
        """
        with self._migration_lock(), self.engine.connect() as connection:
            # SQLite rebuilds a table to alter it; with foreign keys on, dropping the old copy would cascade-delete
            # every event. The pragma only changes outside a transaction.
            self._sqlite_foreign_keys(connection, on=False)
            try:
                with connection.begin():
                    tables = set(inspect(connection).get_table_names())
                    config = alembic_config(connection)
                    if "tickets" in tables and "alembic_version" not in tables:
                        command.stamp(config, FOUNDATION_REVISION)
                    command.upgrade(config, "head")
                    return self.current_revision(connection)
            finally:
                self._sqlite_foreign_keys(connection, on=True)

    def current_revision(self, connection: Connection | None = None) -> str:
        """The revision the database is at ('' when never migrated)."""
        if connection is not None:
            return MigrationContext.configure(connection).get_current_revision() or ""
        with self.engine.connect() as fresh:
            return MigrationContext.configure(fresh).get_current_revision() or ""

    def ping(self) -> None:
        """Raises if the database does not answer."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """A session whose work is committed when the block ends, or rolled back if it raises."""
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for a single read: no transaction, so no BEGIN and COMMIT around the one statement."""
        with (
            self.engine.connect() as connection,
            Session(bind=connection.execution_options(isolation_level="AUTOCOMMIT")) as session,
        ):
            yield session

    def dispose(self) -> None:
        """Closes pooled connections."""
        self.engine.dispose()

    def _sqlite_foreign_keys(self, connection: Connection, *, on: bool) -> None:
        if self.dialect == "sqlite":
            connection.exec_driver_sql(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
            connection.commit()

    @contextmanager
    def _migration_lock(self) -> Iterator[None]:
        if self.dialect == "postgresql":
            with self.engine.connect() as connection:
                connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
                try:
                    yield
                finally:
                    connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
                    connection.commit()
            return
        if self._sqlite_path is None:
            yield
            return
        lock_path = self._sqlite_path.with_name(self._sqlite_path.name + ".migrate.lock")
        with lock_path.open("a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    # WAL lets readers go on while the worker writes; foreign keys are off in SQLite unless asked for.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
