"""The organisation's use cases: admins add streets, communities and workers; tickets ask which communities exist;
the authenticator asks which communities a street has; a worker asks who their colleagues are."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from linli.errors import AlreadyExists, FieldViolation, InvalidArgument, NotFound, shown_id
from linli.tokens import Role, TokenKind
from services.intake.auth.identity import Worker
from services.intake.auth.revocations import Revocations, stage_revocation
from services.intake.database import Database
from services.intake.organisation import repository
from services.intake.organisation.models import CODE_LENGTH, NAME_LENGTH
from services.intake.organisation.repository import CommunityRecord, StreetRecord, WorkerRecord

CODE = re.compile(rf"[A-Za-z0-9_-]{{1,{CODE_LENGTH}}}")
WORKER_ID = re.compile(r"[A-Za-z0-9_.:@-]{1,128}")
WECOM_USERID = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
DEACTIVATION_REASON = "工作人员已停用"
# Long enough that a submission costs no query; short enough that another replica's new community arrives soon.
DIRECTORY_TTL_SECONDS = 30.0


@dataclass(frozen=True)
class NewWorker:
    """What an admin gives to add a worker: community or street (or neither: every community), never both."""

    worker_id: str
    party: str
    community: str = ""
    street: str = ""
    role: str = Role.WORKER.value
    wecom_userid: str = ""
    display_name: str = ""


@dataclass(frozen=True)
class Organisation:
    """Everything an admin lists: streets, communities, parties, workers."""

    streets: list[StreetRecord]
    communities: list[CommunityRecord]
    parties: dict[str, str]
    workers: list[WorkerRecord]


class CommunityDirectory:
    """The active communities and those of each street, cached for `ttl_seconds` (every submission and every street
    worker's request reads them); the flows that change them drop the cache at once."""

    def __init__(
        self,
        database: Database,
        *,
        ttl_seconds: float = DIRECTORY_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._database = database
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._loaded_at: float | None = None
        self._names: frozenset[str] = frozenset()
        self._streets: dict[str, frozenset[str]] = {}

    def names(self) -> frozenset[str]:
        """The communities a new ticket may name."""
        self._refresh_if_stale()
        return self._names

    def of_street(self, street: str) -> frozenset[str]:
        """The active communities on `street` (empty for an unknown one)."""
        self._refresh_if_stale()
        return self._streets.get(street, frozenset())

    def invalidate(self) -> None:
        """Forgets the cache: the next read loads the tables again."""
        with self._lock:
            self._loaded_at = None

    def _refresh_if_stale(self) -> None:
        with self._lock:
            now = self._clock()
            if self._loaded_at is not None and now - self._loaded_at < self._ttl:
                return
            with self._database.unit_of_work() as session:
                rows = repository.communities(session=session)
            active = [row for row in rows if row.active]
            by_street: dict[str, set[str]] = {}
            for row in active:
                if row.street:
                    by_street.setdefault(row.street, set()).add(row.name)
            self._names = frozenset(row.name for row in active)
            self._streets = {street: frozenset(names) for street, names in by_street.items()}
            self._loaded_at = now


def _checked_name(value: str, field: str) -> str:
    name = value.strip()
    if not 0 < len(name) <= NAME_LENGTH or not name.isprintable():
        raise InvalidArgument.for_field(field, f"须为 1-{NAME_LENGTH} 个可见字符")
    return name


def _checked_code(value: str, field: str) -> str:
    if not CODE.fullmatch(value):
        raise InvalidArgument.for_field(field, f"须为 1-{CODE_LENGTH} 个字母、数字、- 或 _")
    return value


def _worker_violations(new: NewWorker) -> list[FieldViolation]:
    violations = []
    if not WORKER_ID.fullmatch(new.worker_id):
        violations.append(FieldViolation("worker_id", "须为 1-128 个字母、数字或 _ . : @ -"))
    if new.community and new.street:
        violations.append(FieldViolation("street", "工作人员只服务一个社区或一个街道,不能同时指定"))
    if new.role not in {role.value for role in Role}:
        violations.append(FieldViolation("role", "须为 worker、dispatcher 或 admin"))
    if new.wecom_userid and not WECOM_USERID.fullmatch(new.wecom_userid):
        violations.append(FieldViolation("wecom_userid", "须为 1-64 个字母、数字或 _ . @ -"))
    if len(new.display_name) > NAME_LENGTH or not new.display_name.isprintable():
        violations.append(FieldViolation("display_name", f"至多 {NAME_LENGTH} 个可见字符"))
    return violations


def _overlaps(mine: frozenset[str] | None, theirs: frozenset[str] | None) -> bool:
    """None is every community."""
    return mine is None or theirs is None or bool(mine & theirs)


class OrganisationFlows:
    """Admin changes to the organisation, and the questions other nouns ask of it."""

    def __init__(
        self,
        database: Database,
        directory: CommunityDirectory | None = None,
        *,
        revocations: Revocations | None = None,
    ) -> None:
        self._database = database
        self.directory = directory or CommunityDirectory(database)
        # This process's deny-list, told at once when a deactivation revokes a worker (others within their refresh).
        self._revocations = revocations

    def seed(self, communities: Iterable[str], parties: dict[str, str]) -> list[str]:
        """Adds the configured communities (on no street) and parties the tables lack; returns the communities
        added. Run at every start: what admins changed stays as they left it."""
        with self._database.unit_of_work() as session:
            repository.seed_parties(parties, session=session)
            added = repository.seed_communities(communities, session=session)
        self.directory.invalidate()
        return added

    def add_street(self, code: str, name: str) -> StreetRecord:
        """Adds a street, or renames the street of this code."""
        street = StreetRecord(_checked_code(code, "code"), _checked_name(name, "name"))
        with self._database.unit_of_work() as session:
            repository.add_street(street.code, street.name, session=session)
        return street

    def add_community(self, name: str, street: str = "") -> CommunityRecord:
        """Adds a community on `street` ('' for none), or moves an existing one there (and makes it active)."""
        community = CommunityRecord(_checked_name(name, "name"), street, True)
        with self._database.unit_of_work() as session:
            if street and not repository.street_exists(street, session=session):
                raise InvalidArgument.for_field("street", f"没有代码为 {street!r} 的街道,请先添加街道")
            repository.put_community(community.name, street, session=session)
        self.directory.invalidate()
        return community

    def add_worker(self, new: NewWorker, *, now: datetime | None = None) -> WorkerRecord:
        """Adds an active worker; InvalidArgument for a bad field or an unknown party, community or street,
        AlreadyExists for a taken id or WeCom userid."""
        if violations := _worker_violations(new):
            raise InvalidArgument.for_fields(violations)
        record = WorkerRecord(
            worker_id=new.worker_id,
            display_name=new.display_name.strip(),
            party=new.party,
            community=new.community,
            street=new.street,
            role=new.role,
            wecom_userid=new.wecom_userid or None,
            active=True,
            created_at=now or datetime.now(UTC),
        )
        with self._database.unit_of_work() as session:
            self._check_references(record, session=session)
            repository.add_worker(record, session=session)
        return record

    @staticmethod
    def _check_references(record: WorkerRecord, *, session: Session) -> None:
        if record.party not in repository.parties(session=session):
            raise InvalidArgument.for_field("party", f"没有代码为 {record.party!r} 的单位")
        if record.street and not repository.street_exists(record.street, session=session):
            raise InvalidArgument.for_field("street", f"没有代码为 {record.street!r} 的街道")
        names = {row.name for row in repository.communities(session=session) if row.active}
        if record.community and record.community not in names:
            raise InvalidArgument.for_field("community", f"没有名为 {record.community!r} 的社区")
        if repository.worker_by_id(record.worker_id, session=session) is not None:
            raise AlreadyExists(f"工作人员 {record.worker_id} 已存在")
        userid = record.wecom_userid
        if userid and repository.worker_by_wecom_userid(userid, session=session) is not None:
            raise AlreadyExists(f"企业微信账号 {userid} 已绑定其他工作人员")

    def deactivate_worker(self, worker_id: str, *, actor: str, now: datetime | None = None) -> WorkerRecord:
        """Stops a worker's WeCom logins and ends their sessions: in the same transaction, their worker tokens issued
        until now go on the deny-list (`revoked_subjects`). NotFound for an unknown id."""
        now = now or datetime.now(UTC)
        with self._database.unit_of_work() as session:
            record = repository.set_worker_active(worker_id, False, session=session)
            if record is None:
                raise NotFound(f"没有工作人员 {shown_id(worker_id)}")
            stage_revocation(TokenKind.WORKER, worker_id, now, reason=DEACTIVATION_REASON, actor=actor, session=session)
        if self._revocations is not None:
            self._revocations.forget_snapshot()
        return record

    def activate_worker(self, worker_id: str) -> WorkerRecord:
        """Lets a deactivated worker sign in again. The tokens issued before the deactivation stay refused (the
        worker signs in anew): a revocation an operator wrote for a leaked token must not be undone by this;
        `linli token unrevoke` lifts it on purpose. NotFound for an unknown id."""
        with self._database.unit_of_work() as session:
            record = repository.set_worker_active(worker_id, True, session=session)
        if record is None:
            raise NotFound(f"没有工作人员 {shown_id(worker_id)}")
        return record

    def display_name(self, worker_id: str) -> str:
        """The registered name of a worker ('' for none, or for a worker only a token knows)."""
        with self._database.unit_of_work() as session:
            record = repository.worker_by_id(worker_id, session=session)
        return record.display_name if record is not None else ""

    def listing(self) -> Organisation:
        """Streets, communities, parties and workers."""
        with self._database.unit_of_work() as session:
            return Organisation(
                repository.streets(session=session),
                repository.communities(session=session),
                repository.parties(session=session),
                repository.workers(session=session),
            )

    def active_worker_for_wecom(self, userid: str) -> WorkerRecord | None:
        """The active worker this WeCom account signs in as; None when none is (unknown or deactivated)."""
        with self._database.unit_of_work() as session:
            record = repository.worker_by_wecom_userid(userid, session=session)
        return record if record is not None and record.active else None

    def signed_in_worker(self, wecom_userid: str) -> Worker | None:
        """Who a WeCom login signs in as: the active worker of this WeCom account; None when none is."""
        record = self.active_worker_for_wecom(wecom_userid)
        if record is None:
            return None
        return Worker(record.worker_id, record.party, record.community, Role(record.role), street=record.street)

    def colleagues(self, worker: Worker) -> list[WorkerRecord]:
        """The active workers of the caller's party whose communities overlap the caller's (the caller aside)."""
        scope = worker.community_scope
        mine = frozenset(scope) if scope is not None else None
        with self._database.unit_of_work() as session:
            candidates = repository.workers(session=session, party=worker.party, active_only=True)
        return [
            record
            for record in candidates
            if record.worker_id != worker.worker_id and _overlaps(mine, self._scope_of(record))
        ]

    def _scope_of(self, record: WorkerRecord) -> frozenset[str] | None:
        if record.community:
            return frozenset({record.community})
        if record.street:
            return self.directory.of_street(record.street)
        return None
