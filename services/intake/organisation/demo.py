"""The demo organisation `linli dev` (`make run`) seeds so that a newcomer can sign in to the console with the
development WeCom verifier: one street holding the configured communities, and a few workers with WeCom userids.

Seeded only while the workers table is empty, in one transaction: a deployment whose admins registered anyone is
never touched, and a second start adds nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from linli.parties import OWNERS_COMMITTEE, PROPERTY_MANAGER, STREET_OFFICE
from linli.tokens import Role
from services.intake.database import Database
from services.intake.organisation import repository
from services.intake.organisation.repository import WorkerRecord

DEMO_STREET_CODE = "demo"
DEMO_STREET_NAME = "示范街道"
# WeCom userid and name of the first community's worker of each default party; a city's own parties get their code.
PARTY_ACCOUNTS = {
    PROPERTY_MANAGER: ("wuye", "王师傅(物业)"),
    OWNERS_COMMITTEE: ("yeweihui", "李主任(业委会)"),
    STREET_OFFICE: ("shequ", "张书记(居委会)"),
}
STREET_ACCOUNT = ("jiedao", "陈科长(街道)")
ADMIN_ACCOUNT = ("admin", "赵工(管理员)")


def _worker(
    userid: str, name: str, party: str, *, community: str = "", street: str = "", role: Role = Role.WORKER
) -> WorkerRecord:
    return WorkerRecord(
        worker_id=f"demo-{userid}",
        display_name=name,
        party=party,
        community=community,
        street=street,
        role=role.value,
        wecom_userid=userid,
        active=True,
        created_at=datetime.now(UTC),
    )


def demo_workers(home: str, parties: Sequence[str]) -> list[WorkerRecord]:
    """One worker per party for the community `home`, a street office worker over the demo street and an admin
    (every community); the street office's are of the first party when a city has no `street_office`."""
    office = STREET_OFFICE if STREET_OFFICE in parties else parties[0]
    workers = [
        _worker(*PARTY_ACCOUNTS.get(party, (party.replace("_", "-"), party)), party, community=home)
        for party in parties
    ]
    workers.append(_worker(*STREET_ACCOUNT, office, street=DEMO_STREET_CODE))
    workers.append(_worker(*ADMIN_ACCOUNT, office, role=Role.ADMIN))
    return workers


def seed_demo_organisation(database: Database, communities: Sequence[str], *, home: str = "") -> list[WorkerRecord]:
    """While no worker is registered: the demo street with `communities` on it (those the table holds) and the
    demo workers, whose parties serve `home` (the first of `communities` when it is not one of them); returns the
    workers added (none when some worker existed, or no community does)."""
    with database.unit_of_work() as session:
        if repository.any_worker(session=session):
            return []
        known = {row.name for row in repository.communities(session=session)}
        placed = [name for name in dict.fromkeys(communities) if name in known]
        parties = list(repository.parties(session=session))
        if not placed or not parties:
            return []
        repository.add_street(DEMO_STREET_CODE, DEMO_STREET_NAME, session=session)
        session.flush()  # the street before the rows that refer to it
        for name in placed:
            repository.put_community(name, DEMO_STREET_CODE, session=session)
        session.flush()
        workers = demo_workers(home if home in placed else placed[0], parties)
        for worker in workers:
            repository.add_worker(worker, session=session)
    return workers
