"""GET /v1/dashboards: a scope's figures per week or month, each rate with its numerator and denominator."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from services.intake.auth import Caller
from services.intake.auth.http import CallerDep
from services.intake.dashboards.flows import DashboardFlows
from services.intake.dashboards.models import Dashboard, Figures, PeriodKind, Ratio


class RatioOut(BaseModel):
    """A rate and what it was computed from; `rate` is null when the denominator is 0."""

    numerator: int
    denominator: int
    rate: float | None


class PeriodOut(BaseModel):
    """The figures of the tickets received in one week or month (Shanghai time; `end` is the day after)."""

    start: date
    end: date
    received: int
    response: RatioOut = Field(description="响应率: accepted within the acceptance window / needed acceptance.")
    resolution: RatioOut = Field(description="解决率: resolved or closed now / received.")
    satisfaction: RatioOut = Field(description="满意率: rated 4 or 5 / rated.")
    on_time: RatioOut = Field(
        description="按时办结率: resolved by the deadline (waits for the resident excluded) / resolved with a deadline."
    )
    reopen: RatioOut = Field(description="重办率: reopened at least once / ever resolved.")
    transfer: RatioOut = Field(description="转派率: transferred at least once / received.")
    median_accept_seconds: float | None
    median_resolve_seconds: float | None


class DashboardOut(BaseModel):
    """A dashboard: its scope, party filter, period kind, acceptance window and series, oldest period first."""

    scope: str
    party: str
    period: PeriodKind
    accept_window_seconds: int
    periods: list[PeriodOut]


def ratio_out(ratio: Ratio) -> RatioOut:
    """The JSON shape of a rate."""
    return RatioOut(numerator=ratio.numerator, denominator=ratio.denominator, rate=ratio.rate)


def period_out(figures: Figures) -> PeriodOut:
    """The JSON shape of one period's figures."""
    return PeriodOut(
        start=figures.period.start,
        end=figures.period.end,
        received=figures.received,
        response=ratio_out(figures.response),
        resolution=ratio_out(figures.resolution),
        satisfaction=ratio_out(figures.satisfaction),
        on_time=ratio_out(figures.on_time),
        reopen=ratio_out(figures.reopen),
        transfer=ratio_out(figures.transfer),
        median_accept_seconds=figures.median_accept_seconds,
        median_resolve_seconds=figures.median_resolve_seconds,
    )


def dashboard_out(dashboard: Dashboard) -> DashboardOut:
    """The JSON shape of a dashboard."""
    return DashboardOut(
        scope=dashboard.scope,
        party=dashboard.party,
        period=dashboard.kind,
        accept_window_seconds=int(dashboard.accept_window.total_seconds()),
        periods=[period_out(f) for f in dashboard.series],
    )


ScopeParam = Annotated[str, Query(description="all, street:<code> or community:<name>", max_length=140)]
PartyParam = Annotated[str, Query(description="Only this party's tickets ('' every party).", max_length=64)]
FromParam = Annotated[date, Query(alias="from", description="First day (YYYY-MM-DD, Shanghai).")]
ToParam = Annotated[date, Query(alias="to", description="Last day, included.")]


@dataclass(frozen=True)
class DashboardParams:
    """What GET /v1/dashboards and its exports are asked for."""

    scope: str
    party: str
    period: PeriodKind
    first: date
    last: date

    def of(self, flows: DashboardFlows, caller: Caller) -> Dashboard:
        """The dashboard these parameters ask `flows` for, as `caller` may see it."""
        return flows.dashboard(caller, self.scope, party=self.party, kind=self.period, first=self.first, last=self.last)


def dashboard_params(
    first: FromParam,
    last: ToParam,
    scope: ScopeParam = "all",
    party: PartyParam = "",
    period: PeriodKind = PeriodKind.WEEK,
) -> DashboardParams:
    """The dashboard's query parameters, shared by the page and its exports."""
    return DashboardParams(scope, party, period, first, last)


DashboardParamsDep = Annotated[DashboardParams, Depends(dashboard_params)]


def dashboard_routes(flows: DashboardFlows) -> APIRouter:
    """The /v1/dashboards route: workers read the communities they serve, admins any scope."""
    router = APIRouter(prefix="/v1/dashboards", tags=["dashboards"])

    @router.get("", response_model=DashboardOut)
    def read_dashboard(caller: CallerDep, params: DashboardParamsDep) -> DashboardOut:
        """Per week (ISO, Monday 00:00 Shanghai) or calendar month, the tickets received and the rates a street
        office is judged by; docs/dashboards.md defines each. At most 367 days; the periods are whole."""
        return dashboard_out(params.of(flows, caller))

    return router
