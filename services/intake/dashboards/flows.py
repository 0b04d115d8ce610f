"""Reading a dashboard: who may see which scope, the range asked for, and the figures of each period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from linli.errors import InvalidArgument, NotFound, PermissionDenied, shown_id
from linli.tokens import Role
from services.intake.auth import Caller, Worker
from services.intake.auth.identity import require_worker
from services.intake.dashboards import repository
from services.intake.dashboards.models import (
    DEFAULT_ACCEPT_WINDOW,
    MAX_RANGE_DAYS,
    Dashboard,
    DashboardQuery,
    PeriodKind,
    StreetCommunities,
    no_known_streets,
    periods_covering,
)
from services.intake.database import Database
from services.intake.tickets.context import Clock, utc_now

MAX_NAME_LENGTH = 128  # a community's name column (tickets.community)


@dataclass(frozen=True)
class Scope:
    """What a dashboard covers: its name as asked (`street:<code>`, `community:<name>`, `all`) and its
    communities (None: every community)."""

    name: str
    communities: tuple[str, ...] | None


def check_range(first: date, last: date) -> None:
    """Raises InvalidArgument for a range that ends before it starts or is longer than MAX_RANGE_DAYS."""
    if first > last:
        raise InvalidArgument.for_field("from", "must not be after `to`")
    if (last - first).days + 1 > MAX_RANGE_DAYS:
        raise InvalidArgument.for_field("to", f"the range may cover at most {MAX_RANGE_DAYS} days")


class DashboardFlows:
    """The dashboards of workers: the figures of the communities they serve, admins' of any."""

    def __init__(
        self,
        database: Database,
        streets: StreetCommunities = no_known_streets,
        *,
        clock: Clock = utc_now,
        accept_window: timedelta = DEFAULT_ACCEPT_WINDOW,
    ) -> None:
        self._database = database
        self._streets = streets
        self._clock = clock
        self.accept_window = accept_window

    def dashboard(
        self, caller: Caller, scope_name: str, *, party: str, kind: PeriodKind, first: date, last: date
    ) -> Dashboard:
        """The figures of each week or month from `first` to `last` (whole periods) in the scope the caller may see."""
        check_range(first, last)
        scope = self.scope_of(caller, scope_name)
        query = DashboardQuery(
            communities=scope.communities,
            party=party,
            periods=periods_covering(kind, first, last),
            accept_window=self.accept_window,
            now=self._clock(),
        )
        with self._database.unit_of_work() as session:
            series = repository.figures(query, session=session)
        return Dashboard(scope.name, party, kind, self.accept_window, tuple(series))

    def scope_of(self, caller: Caller, scope_name: str) -> Scope:
        """The scope named, if the caller may see it: PermissionDenied for residents, services and workers asking
        beyond the communities they serve; NotFound for a street without known communities."""
        worker = require_worker(caller)
        scope = self._parse(worker, scope_name.strip())
        if worker.role is Role.ADMIN or worker.community_scope is None:
            return scope
        served = set(worker.community_scope)
        if scope.communities is None or not served.issuperset(scope.communities):
            raise PermissionDenied(f"worker {worker.worker_id} does not serve every community of {scope.name}")
        return scope

    def _parse(self, worker: Worker, scope_name: str) -> Scope:
        if scope_name == "all":
            return Scope("all", None)
        kind, _, value = scope_name.partition(":")
        value = value.strip()
        if kind not in ("street", "community") or not value or len(value) > MAX_NAME_LENGTH:
            raise InvalidArgument.for_field("scope", "must be all, street:<code> or community:<name>")
        if kind == "community":
            return Scope(f"community:{value}", (value,))
        communities = worker.street_communities if worker.street == value else frozenset()
        communities = communities or self._streets(value)
        if not communities:
            raise NotFound(f"no communities are known for street {shown_id(value)}")
        return Scope(f"street:{value}", tuple(sorted(communities)))
