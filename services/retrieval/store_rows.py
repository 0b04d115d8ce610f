"""The case store's tables, and how a stored row becomes a case: the schema every replica shares."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Connection, Integer, LargeBinary, Row, String, Text, inspect, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from linli.sql_types import UtcDateTime
from services.retrieval.cases import CaseRecord, CaseStatus


class Base(DeclarativeBase):
    pass


class ChangeRow(Base):
    """One entry of the change feed: `key` was upserted or deleted, in commit order of `seq`."""

    __tablename__ = "case_changes"
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012 - SQLAlchemy's declarative contract

    # BIGINT (a PostgreSQL identity) everywhere but SQLite, where only INTEGER PRIMARY KEY autoincrements.
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    key: Mapped[int] = mapped_column(BigInteger)
    op: Mapped[str] = mapped_column(String(8))


class FeedMarkRow(Base):
    """Every change up to `seq` had committed by `at`: how the pruner tells a change's age (docs/adr/0011)."""

    __tablename__ = "case_feed_marks"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class FeedPrunedRow(Base):
    """The one row saying every change up to `seq` was deleted: written with the deletion, in its transaction."""

    __tablename__ = "case_feed_pruned"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # always 1
    seq: Mapped[int] = mapped_column(BigInteger)


class CaseRow(Base):
    """A stored case; `key` is the int64 id FAISS knows it by."""

    __tablename__ = "cases"
    # Keys are FAISS ids: SQLite must never hand out a deleted row's key again.
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012 - SQLAlchemy's declarative contract

    key: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(String(128), unique=True, index=True)
    complaint: Mapped[str] = mapped_column(Text)
    resolution: Mapped[str] = mapped_column(Text, default="")
    party: Mapped[str] = mapped_column(String(64), index=True)
    category: Mapped[str] = mapped_column(String(64), default="")
    community: Mapped[str] = mapped_column(String(128), index=True)
    building: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    model: Mapped[str] = mapped_column(String(256))
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    # linli.pii's scrubber_fingerprint of the scrubber that cleaned the texts ("": unknown, scrubbed again on reads).
    scrubbed_by: Mapped[str] = mapped_column(String(32), default="", server_default="")

    def to_record(self) -> CaseRecord:
        """The domain view of this row."""
        return record_of(self)


RECORD_COLUMNS = (
    CaseRow.key,
    CaseRow.case_id,
    CaseRow.complaint,
    CaseRow.resolution,
    CaseRow.party,
    CaseRow.category,
    CaseRow.community,
    CaseRow.building,
    CaseRow.status,
    CaseRow.created_at,
    CaseRow.resolved_at,
)
SERVED_COLUMNS = (*RECORD_COLUMNS, CaseRow.scrubbed_by)


def record_of(row: CaseRow | Row[*tuple[Any, ...]]) -> CaseRecord:
    """A case from a stored row or from a select of RECORD_COLUMNS (their attributes have the same names)."""
    return CaseRecord(
        id=row.case_id,
        complaint=row.complaint,
        resolution=row.resolution,
        party=row.party,
        category=row.category,
        community=row.community,
        building=row.building,
        status=CaseStatus(row.status),
        created_at=row.created_at,
        resolved_at=row.resolved_at,
    )


@dataclass(frozen=True)
class CaseFacetsRow:
    """The columns search filters look at, read without the texts and the vector."""

    community: str
    party: str
    status: CaseStatus
    resolved_at: datetime | None


def add_scrubbed_by(connection: Connection) -> None:
    """Gives a store made before scrubbed_by existed the column (empty: its cases are scrubbed again on reads)."""
    if "scrubbed_by" not in {column["name"] for column in inspect(connection).get_columns(CaseRow.__tablename__)}:
        connection.execute(text("ALTER TABLE cases ADD COLUMN scrubbed_by VARCHAR(32) NOT NULL DEFAULT ''"))
