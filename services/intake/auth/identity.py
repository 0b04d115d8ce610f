"""Who is calling: a resident, a worker of a party, or a service, as their verified token says."""

from __future__ import annotations

from dataclasses import dataclass

from linli.errors import PermissionDenied
from linli.tokens import Claims, Role, TokenKind


def resident_actor(resident_id: str) -> str:
    """How a resident appears in a ticket's history (an erasure rewrites exactly these)."""
    return f"resident:{resident_id}"


def worker_actor(worker_id: str) -> str:
    """How a worker appears in a ticket's history."""
    return f"worker:{worker_id}"


@dataclass(frozen=True)
class Resident:
    """A resident, by the openid the login exchange gave (the tickets' `resident_id`)."""

    resident_id: str

    @property
    def actor(self) -> str:
        """How the resident appears in a ticket's history."""
        return resident_actor(self.resident_id)


@dataclass(frozen=True)
class Worker:
    """An authenticated worker: who, for which party, in which community ('' serves every community) or, for a
    street office worker, every community of one street (`street`, its communities resolved when the token is read)."""

    worker_id: str
    party: str
    community: str = ""
    role: Role = Role.WORKER
    street: str = ""
    street_communities: frozenset[str] = frozenset()

    @property
    def actor(self) -> str:
        """How the worker appears in a ticket's history."""
        return worker_actor(self.worker_id)

    @property
    def is_dispatcher(self) -> bool:
        """True for those who see and route the community's manual queue: dispatchers, and admins above them."""
        return self.role in (Role.DISPATCHER, Role.ADMIN)

    def serves(self, community: str) -> bool:
        """True when the worker may act on tickets of `community`."""
        if self.community:
            return self.community == community
        if self.street:
            return community in self.street_communities
        return True

    @property
    def community_scope(self) -> tuple[str, ...] | None:
        """The communities the worker serves, sorted; None for every community."""
        if self.community:
            return (self.community,)
        if self.street:
            return tuple(sorted(self.street_communities))
        return None


@dataclass(frozen=True)
class Service:
    """Another linli process acting for itself (e.g. intake's Celery worker syncing learned cases)."""

    name: str


Caller = Resident | Worker | Service


def caller_of(claims: Claims) -> Caller:
    """The caller a verified token stands for."""
    if claims.kind is TokenKind.RESIDENT:
        return Resident(claims.subject)
    if claims.kind is TokenKind.WORKER:
        return Worker(claims.subject, claims.party, claims.community, claims.role or Role.WORKER, street=claims.street)
    return Service(claims.subject)


def _kind_name(caller: Caller) -> str:
    return {Resident: "a resident's", Worker: "a worker's", Service: "a service's"}[type(caller)]


def require_worker(caller: Caller) -> Worker:
    """The caller as a worker; PermissionDenied for a resident's or a service's token."""
    if not isinstance(caller, Worker):
        raise PermissionDenied(f"this needs a worker's token, not {_kind_name(caller)}")
    return caller


def require_resident(caller: Caller) -> Resident:
    """The caller as a resident; PermissionDenied for a worker's or a service's token."""
    if not isinstance(caller, Resident):
        raise PermissionDenied(f"this needs a resident's token, not {_kind_name(caller)}")
    return caller


def check_claimed_identity(worker: Worker, worker_id: str, party: str) -> None:
    """Old clients still send worker_id and party: they must agree with the token, never override it."""
    if (worker_id and worker_id != worker.worker_id) or (party and party != worker.party):
        raise PermissionDenied(f"the token acts as {worker.worker_id} for {worker.party}")


def check_claimed_resident(resident: Resident, resident_id: str) -> None:
    """Old clients still send resident_id: it must agree with the token, never override it."""
    if resident_id and resident_id != resident.resident_id:
        raise PermissionDenied("resident_id must match the token (or be left out)")
