"""Organisation tables: streets (街道), communities (社区/小区) on a street, the parties that hold tickets, and the
workers (who, for which party, over which community or street, with which role, and their WeCom account)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from linli.sql_types import UtcDateTime
from services.intake.database import Base

CODE_LENGTH = 64
NAME_LENGTH = 128


class Street(Base):
    """A street office's area (街道), by a short code such as `beixinjing`."""

    __tablename__ = "streets"

    code: Mapped[str] = mapped_column(String(CODE_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))


class Community(Base):
    """A community tickets may name. Keyed by its name: tickets store the name, and so do the settings it is seeded
    from. `street_code` is None until an admin places it on a street; an inactive one takes no new tickets."""

    __tablename__ = "communities"

    name: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    street_code: Mapped[str | None] = mapped_column(
        String(CODE_LENGTH), ForeignKey("streets.code"), nullable=True, index=True
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Party(Base):
    """A party that may hold a ticket (物业, 业委会, 街道/社区, or a city's own), by the id routing uses."""

    __tablename__ = "parties"

    code: Mapped[str] = mapped_column(String(CODE_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))


class WorkerAccount(Base):
    """A worker who may sign in: their party, their scope (`community`, or `street`, or neither: every community),
    their role, and the WeCom (企业微信) userid their login maps to. Deactivated, never deleted: the tickets'
    history keeps naming them."""

    __tablename__ = "workers"

    worker_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(NAME_LENGTH), default="")
    party: Mapped[str] = mapped_column(String(CODE_LENGTH), ForeignKey("parties.code"), index=True)
    community: Mapped[str] = mapped_column(String(NAME_LENGTH), default="")
    street: Mapped[str] = mapped_column(String(CODE_LENGTH), default="")
    role: Mapped[str] = mapped_column(String(16), default="worker")
    wecom_userid: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
