"""The `ticket_database` fixture: a migrated, empty ticket store per test, on SQLite and on PostgreSQL (and
`sqlite_ticket_database`, SQLite only, for tests about something other than the store).

Loaded as a plugin (`pytest_plugins = ["tests.unit.intake.database"]`) by the intake tests that need it. PostgreSQL
databases are cloned from a template migrated once per session, so a test costs a CREATE DATABASE, not a migration.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from services.intake.database import Database


def _create_database(server_url: str, name: str, template: str | None = None) -> str:
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
    admin.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def _drop_database(server_url: str, name: str) -> None:
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def migrated_postgres_template(postgres_server_url: str) -> Iterator[str]:
    """A PostgreSQL database migrated to head, used only as a template."""
    name = f"linli_intake_template_{uuid.uuid4().hex[:8]}"
    database = Database(_create_database(postgres_server_url, name))
    database.upgrade_schema()
    database.dispose()
    yield name
    _drop_database(postgres_server_url, name)


@contextmanager
def _migrated_sqlite(folder: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{folder / 'tickets.sqlite'}")
    database.upgrade_schema()
    yield database
    database.dispose()


@pytest.fixture
def sqlite_ticket_database(tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty ticket store on SQLite only: for tests about metrics or limits, not about the store."""
    with _migrated_sqlite(tmp_path) as database:
        yield database


@pytest.fixture(params=["sqlite", "postgresql"])
def ticket_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty ticket store for one test: SQLite (the embedded default) and PostgreSQL (production)."""
    if request.param == "sqlite":
        with _migrated_sqlite(tmp_path) as database:
            yield database
        return
    server_url = str(request.getfixturevalue("postgres_server_url"))
    template = str(request.getfixturevalue("migrated_postgres_template"))
    name = f"linli_test_{uuid.uuid4().hex[:12]}"
    database = Database(_create_database(server_url, name, template))
    yield database
    database.dispose()
    _drop_database(server_url, name)
