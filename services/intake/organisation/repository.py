"""Reads and writes of the organisation tables, inside the caller's unit of work."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.intake.organisation.models import Community, Party, Street, WorkerAccount


@dataclass(frozen=True)
class StreetRecord:
    """A street: its code and its name."""

    code: str
    name: str


@dataclass(frozen=True)
class CommunityRecord:
    """A community by name, its street's code ('' for none yet) and whether it takes new tickets."""

    name: str
    street: str
    active: bool


@dataclass(frozen=True)
class WorkerRecord:
    """A worker as the organisation knows them; `community` and `street` are '' when not set (both '': every
    community)."""

    worker_id: str
    display_name: str
    party: str
    community: str
    street: str
    role: str
    wecom_userid: str | None
    active: bool
    created_at: datetime


def _worker_record(row: WorkerAccount) -> WorkerRecord:
    return WorkerRecord(
        worker_id=row.worker_id,
        display_name=row.display_name,
        party=row.party,
        community=row.community,
        street=row.street,
        role=row.role,
        wecom_userid=row.wecom_userid,
        active=row.active,
        created_at=row.created_at,
    )


def streets(*, session: Session) -> list[StreetRecord]:
    """Every street, by code."""
    rows = session.scalars(select(Street).order_by(Street.code))
    return [StreetRecord(row.code, row.name) for row in rows]


def street_exists(code: str, *, session: Session) -> bool:
    """True when a street has this code."""
    return session.get(Street, code) is not None


def add_street(code: str, name: str, *, session: Session) -> bool:
    """Adds a street, or renames the one of this code; True when it is new."""
    row = session.get(Street, code)
    if row is None:
        session.add(Street(code=code, name=name))
        return True
    row.name = name
    return False


def communities(*, session: Session) -> list[CommunityRecord]:
    """Every community, active or not, by name."""
    rows = session.scalars(select(Community).order_by(Community.name))
    return [CommunityRecord(row.name, row.street_code or "", row.active) for row in rows]


def active_community_names(*, session: Session) -> frozenset[str]:
    """The communities new tickets may name."""
    return frozenset(session.scalars(select(Community.name).where(Community.active.is_(True))))


def communities_of_street(street: str, *, session: Session) -> frozenset[str]:
    """The names of the active communities on `street` (empty for an unknown street)."""
    query = select(Community.name).where(Community.street_code == street, Community.active.is_(True))
    return frozenset(session.scalars(query))


def put_community(name: str, street: str, *, session: Session) -> bool:
    """Adds a community on `street` ('' for none), or moves an existing one there and makes it active again; True
    when it is new."""
    row = session.get(Community, name)
    if row is None:
        session.add(Community(name=name, street_code=street or None, active=True))
        return True
    row.street_code = street or None
    row.active = True
    return False


def seed_communities(names: Iterable[str], *, session: Session) -> list[str]:
    """Adds the communities of `names` that are missing (on no street), leaving the others as admins set them;
    returns those added."""
    present = set(session.scalars(select(Community.name)))
    added = [name for name in dict.fromkeys(names) if name not in present]
    session.add_all(Community(name=name, street_code=None, active=True) for name in added)
    return added


def parties(*, session: Session) -> dict[str, str]:
    """Party code -> name."""
    return {row.code: row.name for row in session.scalars(select(Party).order_by(Party.code))}


def seed_parties(names: dict[str, str], *, session: Session) -> list[str]:
    """Adds the parties of `names` (code -> name) that are missing; returns their codes."""
    present = set(session.scalars(select(Party.code)))
    added = [code for code in names if code not in present]
    session.add_all(Party(code=code, name=names[code]) for code in added)
    return added


def worker_by_id(worker_id: str, *, session: Session) -> WorkerRecord | None:
    """The worker of this id, active or not; None when there is none."""
    row = session.get(WorkerAccount, worker_id)
    return _worker_record(row) if row is not None else None


def worker_by_wecom_userid(userid: str, *, session: Session) -> WorkerRecord | None:
    """The worker whose WeCom account this is, active or not; None when none is."""
    row = session.scalars(select(WorkerAccount).where(WorkerAccount.wecom_userid == userid)).first()
    return _worker_record(row) if row is not None else None


def add_worker(record: WorkerRecord, *, session: Session) -> None:
    """Stores a new worker (the caller checked the id is free)."""
    session.add(
        WorkerAccount(
            worker_id=record.worker_id,
            display_name=record.display_name,
            party=record.party,
            community=record.community,
            street=record.street,
            role=record.role,
            wecom_userid=record.wecom_userid,
            active=record.active,
            created_at=record.created_at,
        )
    )


def set_worker_active(worker_id: str, active: bool, *, session: Session) -> WorkerRecord | None:
    """Activates or deactivates a worker; None when there is no such worker."""
    row = session.get(WorkerAccount, worker_id)
    if row is None:
        return None
    row.active = active
    return _worker_record(row)


def any_worker(*, session: Session) -> bool:
    """True when the workers table has a row."""
    return session.scalars(select(WorkerAccount.worker_id).limit(1)).first() is not None


def workers(*, session: Session, party: str | None = None, active_only: bool = False) -> list[WorkerRecord]:
    """The workers (of `party` when given), by id."""
    query = select(WorkerAccount).order_by(WorkerAccount.worker_id)
    if party is not None:
        query = query.where(WorkerAccount.party == party)
    if active_only:
        query = query.where(WorkerAccount.active.is_(True))
    return [_worker_record(row) for row in session.scalars(query)]
