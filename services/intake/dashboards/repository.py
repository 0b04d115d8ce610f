"""The dashboard's figures, aggregated by the database: one GROUP BY over the tickets of the scope and range (the
index (community, created_at) finds them), plus the medians (PostgreSQL's percentile_cont; on SQLite, which has
none, the one column of durations per period is read in order and its middle taken here)."""

from __future__ import annotations

import statistics
from collections import defaultdict
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, literal_column, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from services.intake.dashboards.models import SATISFIED_SCORE, DashboardQuery, Figures, Period, Ratio, empty_figures
from services.intake.tickets.models import Ticket, TicketStatus

_RESOLVED = (TicketStatus.RESOLVED.value, TicketStatus.CLOSED.value)


def _count(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _bucket(query: DashboardQuery) -> ColumnElement[Any]:
    """The index of the period a ticket was received in (the range's bounds are in the WHERE clause)."""
    return case(*((Ticket.created_at < period.end_utc, index) for index, period in enumerate(query.periods)))


def _scoped(statement: Select[Any], query: DashboardQuery) -> Select[Any]:
    statement = statement.where(
        Ticket.created_at >= query.periods[0].start_utc, Ticket.created_at < query.periods[-1].end_utc
    )
    if query.communities is not None:
        statement = statement.where(Ticket.community.in_(query.communities))
    if query.party:
        statement = statement.where(Ticket.party == query.party)
    return statement


def _counted_columns(query: DashboardQuery) -> list[ColumnElement[Any]]:
    resolved = Ticket.status.in_(_RESOLVED)
    window_seconds = int(query.accept_window.total_seconds())
    # Needs acceptance: accepted (in time or not), or its window is over and it is no duplicate folded into another.
    needs_acceptance = or_(
        Ticket.accept_seconds.is_not(None),
        and_(Ticket.status != TicketStatus.MERGED.value, Ticket.created_at <= query.now - query.accept_window),
    )
    return [
        func.count().label("received"),
        _count(Ticket.accept_seconds <= window_seconds).label("accepted_in_time"),
        _count(needs_acceptance).label("needed_acceptance"),
        _count(resolved).label("resolved"),
        _count(Ticket.rating >= SATISFIED_SCORE).label("satisfied"),
        _count(Ticket.rating > 0).label("rated"),
        _count(and_(resolved, Ticket.resolved_on_time.is_(True))).label("on_time"),
        _count(and_(resolved, Ticket.resolved_on_time.is_not(None))).label("with_deadline"),
        _count(and_(Ticket.resolve_seconds.is_not(None), Ticket.reopen_count > 0)).label("reopened"),
        _count(Ticket.resolve_seconds.is_not(None)).label("ever_resolved"),
        _count(Ticket.transfer_count > 0).label("transferred"),
    ]


def _resolve_seconds_of_resolved() -> ColumnElement[Any]:
    return case((Ticket.status.in_(_RESOLVED), Ticket.resolve_seconds))


def figures(query: DashboardQuery, *, session: Session) -> list[Figures]:
    """The figures of every period of `query`, oldest first (periods without tickets count zero)."""
    bucket = _bucket(query).label("bucket")
    columns = _counted_columns(query)
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        columns += [
            func.percentile_cont(0.5).within_group(Ticket.accept_seconds).label("median_accept"),
            func.percentile_cont(0.5).within_group(_resolve_seconds_of_resolved()).label("median_resolve"),
        ]
    # GROUP BY the output column's name: the CASE's bound boundaries, repeated, would not be "the same expression".
    rows = session.execute(_scoped(select(bucket, *columns), query).group_by(literal_column("bucket"))).mappings().all()
    if postgres:
        medians = {int(row["bucket"]): (row["median_accept"], row["median_resolve"]) for row in rows}
    else:
        accept = _medians(query, Ticket.accept_seconds, session=session)
        resolve = _medians(query, _resolve_seconds_of_resolved(), session=session)
        medians = {index: (accept.get(index), resolve.get(index)) for index in range(len(query.periods))}
    by_bucket = {int(row["bucket"]): row for row in rows}
    return [
        _figures_of(period, by_bucket[index], medians[index]) if index in by_bucket else empty_figures(period)
        for index, period in enumerate(query.periods)
    ]


def _figures_of(period: Period, row: Any, medians: tuple[Any, Any]) -> Figures:
    accept, resolve = (None if value is None else float(value) for value in medians)
    return Figures(
        period=period,
        received=int(row["received"]),
        response=Ratio(int(row["accepted_in_time"]), int(row["needed_acceptance"])),
        resolution=Ratio(int(row["resolved"]), int(row["received"])),
        satisfaction=Ratio(int(row["satisfied"]), int(row["rated"])),
        on_time=Ratio(int(row["on_time"]), int(row["with_deadline"])),
        reopen=Ratio(int(row["reopened"]), int(row["ever_resolved"])),
        transfer=Ratio(int(row["transferred"]), int(row["received"])),
        median_accept_seconds=accept,
        median_resolve_seconds=resolve,
    )


def _medians(
    query: DashboardQuery, seconds: ColumnElement[Any] | InstrumentedAttribute[Any], *, session: Session
) -> dict[int, float]:
    """Per period, the median of one column of durations (NULLs left out), read in order from the database."""
    bucket = _bucket(query)
    statement = _scoped(select(bucket, seconds), query).where(seconds.is_not(None)).order_by(bucket, seconds)
    durations: dict[int, list[int]] = defaultdict(list)
    for index, value in session.execute(statement):
        durations[int(index)].append(int(value))
    return {index: float(statistics.median(values)) for index, values in durations.items()}
