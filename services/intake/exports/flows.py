"""Exports: the tickets of a worker's view and a dashboard's figures as tables, capped, and told to the audit log."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Row

from linli.pii import scrub
from services.intake.auth import Caller
from services.intake.auth.access import scoped_query
from services.intake.auth.identity import require_worker
from services.intake.dashboards.flows import DashboardFlows
from services.intake.dashboards.models import Figures, PeriodKind
from services.intake.database import Database
from services.intake.exports import repository
from services.intake.exports.models import (
    DASHBOARD_COLUMNS,
    MAX_EXPORT_ROWS,
    STATUS_NAMES,
    TICKET_COLUMNS,
    URGENCY_NAMES,
    Column,
    ExportRecorder,
    ExportTooLarge,
    not_recorded,
)
from services.intake.inbox.flows import ViewDefinition, inbox_query
from services.intake.inbox.models import InboxQuery
from services.intake.tickets.context import utc_now
from services.intake.tickets.repository import TicketQuery

Cells = tuple[Any, ...]


@dataclass(frozen=True)
class ExportTable:
    """An export ready to be written: its columns, its rows (read lazily for tickets), how many, and a file name."""

    columns: tuple[Column, ...]
    rows: Iterable[Cells]
    row_count: int
    name: str


def ticket_cells(row: Row[*tuple[Any, ...]]) -> Cells:
    """One ticket's cells, in TICKET_COLUMNS order; texts scrubbed of personal data."""
    accepted_at = None if row.accept_seconds is None else row.created_at + timedelta(seconds=row.accept_seconds)
    return (
        row.id,
        row.created_at,
        row.community,
        row.building,
        STATUS_NAMES.get(row.status, row.status),
        row.party,
        URGENCY_NAMES.get(row.urgency, row.urgency),
        row.sla_due_at,
        accepted_at,
        row.resolved_at,
        row.rating or None,
        scrub(row.text),
        scrub(row.resolution),
    )


def dashboard_cells(figures: Figures) -> Cells:
    """One period's cells, in DASHBOARD_COLUMNS order (medians in minutes and hours)."""
    ratios = (
        figures.response,
        figures.resolution,
        figures.satisfaction,
        figures.on_time,
        figures.reopen,
        figures.transfer,
    )
    accept, resolve = figures.median_accept_seconds, figures.median_resolve_seconds
    return (
        figures.period.start,
        figures.period.end,
        figures.received,
        *(value for ratio in ratios for value in (ratio.rate, ratio.numerator, ratio.denominator)),
        None if accept is None else round(accept / 60, 1),
        None if resolve is None else round(resolve / 3600, 1),
    )


def describe(query: TicketQuery) -> str:
    """The filters of an export as the audit log names them."""
    filters = {
        "community": query.community,
        "communities": ",".join(query.communities) if query.communities is not None else None,
        "party": query.party,
        "status": query.status.value if query.status else None,
        "escalation_level": query.escalation_level.value if query.escalation_level else None,
    }
    return "tickets " + " ".join(f"{key}={value}" for key, value in filters.items() if value)


def describe_view(query: InboxQuery) -> str:
    """An inbox view as the audit log names its export, e.g. "inbox:overdue sort=deadline party=... urgency=urgent"."""
    scope = query.scope
    named = {
        "sort": query.sort.value,
        "party": scope.party + ("+manual" if scope.with_manual_queue else ""),
        # The communities a worker serves when no one community is picked (None: every one).
        "communities": ",".join(scope.communities) if scope.communities is not None and not scope.community else None,
        **query.filters.as_json(),
    }
    return f"inbox:{query.inbox_set.value} " + " ".join(f"{key}={value}" for key, value in named.items() if value)


class ExportFlows:
    """Exports for workers, within what they may see; each one is told to `on_export` before its rows are read."""

    def __init__(
        self,
        database: Database,
        dashboards: DashboardFlows,
        *,
        on_export: ExportRecorder = not_recorded,
        max_rows: int = MAX_EXPORT_ROWS,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._database = database
        self._dashboards = dashboards
        self._on_export = on_export
        self.max_rows = max_rows
        # The inbox's clock: "overdue" must mean in an export what it means on the inbox's pages.
        self._clock = clock

    def tickets(self, caller: Caller, query: TicketQuery) -> ExportTable:
        """The tickets of the worker's view (the listing's filters and scope), newest first; ExportTooLarge over
        the cap."""
        worker = require_worker(caller)
        query = scoped_query(worker, query)
        with self._database.unit_of_work() as session:
            count = repository.count_tickets(query, session=session)
        if count > self.max_rows:
            raise ExportTooLarge.for_field(
                "filters", f"该视图有 {count} 张工单,超过导出上限 {self.max_rows} 张,请缩小筛选范围后再导出"
            )
        self._on_export(worker.actor, describe(query), count)
        return ExportTable(TICKET_COLUMNS, self._ticket_rows(query, count), count, "tickets")

    def _ticket_rows(self, query: TicketQuery, limit: int) -> Iterator[Cells]:
        with self._database.unit_of_work() as session:
            for row in repository.stream_tickets(query, session=session, limit=limit):
                yield ticket_cells(row)

    def inbox(self, caller: Caller, view: ViewDefinition) -> ExportTable:
        """Every ticket of an inbox view (the set, its filters, the caller's scope), in the view's order: what its
        pages show one after another; ExportTooLarge over the cap."""
        query = inbox_query(caller, view, now=self._clock())
        with self._database.unit_of_work() as session:
            count = repository.count_inbox(query, session=session)
        if count > self.max_rows:
            raise ExportTooLarge.for_field(
                "set", f"该视图有 {count} 张工单,超过导出上限 {self.max_rows} 张,请缩小筛选范围后再导出"
            )
        self._on_export(require_worker(caller).actor, describe_view(query), count)
        return ExportTable(TICKET_COLUMNS, self._inbox_rows(query, count), count, f"inbox-{view.inbox_set.value}")

    def _inbox_rows(self, query: InboxQuery, limit: int) -> Iterator[Cells]:
        with self._database.unit_of_work() as session:
            for row in repository.stream_inbox(query, session=session, limit=limit):
                yield ticket_cells(row)

    def dashboard(
        self, caller: Caller, scope: str, *, party: str, kind: PeriodKind, first: date, last: date
    ) -> ExportTable:
        """A dashboard's figures, one row per period."""
        dashboard = self._dashboards.dashboard(caller, scope, party=party, kind=kind, first=first, last=last)
        rows = [dashboard_cells(figures) for figures in dashboard.series]
        what = f"dashboard scope={dashboard.scope} party={party or '*'} period={kind.value} {first}..{last}"
        self._on_export(require_worker(caller).actor, what, len(rows))
        return ExportTable(DASHBOARD_COLUMNS, rows, len(rows), f"dashboard-{kind.value}-{first}-{last}")
