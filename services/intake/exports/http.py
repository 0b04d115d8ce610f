"""Export routes: a dashboard's figures and a worker's ticket view as CSV (streamed) or Excel.

Mounted before the ticket routes: `/v1/tickets/export.csv` would otherwise be read as the ticket "export.csv".
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import StreamingResponse

from services.intake.auth.http import CallerDep
from services.intake.dashboards.http import FromParam, PartyParam, ScopeParam, ToParam
from services.intake.dashboards.models import PeriodKind
from services.intake.exports.files import csv_chunks, xlsx_bytes
from services.intake.exports.flows import ExportFlows, ExportTable
from services.intake.inbox.http import InboxViewDep
from services.intake.tickets.models import EscalationLevel, TicketStatus
from services.intake.tickets.repository import TicketQuery

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# What the OpenAPI document says a download is.
CSV_FILE: dict[int | str, dict[str, object]] = {
    200: {"description": "A CSV file, UTF-8 with a BOM", "content": {"text/csv": {"schema": {"type": "string"}}}}
}
XLSX_FILE: dict[int | str, dict[str, object]] = {
    200: {
        "description": "An Excel workbook",
        "content": {XLSX_TYPE: {"schema": {"type": "string", "format": "binary"}}},
    }
}


def _attachment(name: str, extension: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}.{extension}"', "Cache-Control": "no-store"}


def csv_response(table: ExportTable) -> StreamingResponse:
    """The table as a streamed CSV download."""
    chunks = (chunk.encode("utf-8") for chunk in csv_chunks(table.columns, table.rows))
    return StreamingResponse(chunks, media_type="text/csv; charset=utf-8", headers=_attachment(table.name, "csv"))


def xlsx_response(table: ExportTable, sheet: str) -> Response:
    """The table as an Excel download (a capped view is a few MB at most: built whole)."""
    content = xlsx_bytes(sheet, table.columns, table.rows)
    return Response(content, media_type=XLSX_TYPE, headers=_attachment(table.name, "xlsx"))


def export_routes(flows: ExportFlows) -> APIRouter:
    """GET /v1/dashboards/export.{csv,xlsx}, /v1/tickets/export.{csv,xlsx} and /v1/inbox/export.{csv,xlsx}, for
    workers within their scope."""
    router = APIRouter(tags=["exports"])

    @router.get("/v1/dashboards/export.csv", response_class=StreamingResponse, responses=CSV_FILE)
    def export_dashboard_csv(
        caller: CallerDep,
        first: FromParam,
        last: ToParam,
        scope: ScopeParam = "all",
        party: PartyParam = "",
        period: PeriodKind = PeriodKind.WEEK,
    ) -> StreamingResponse:
        """The dashboard's figures (the parameters of GET /v1/dashboards), one row per period."""
        return csv_response(flows.dashboard(caller, scope, party=party, kind=period, first=first, last=last))

    @router.get("/v1/dashboards/export.xlsx", response_class=Response, responses=XLSX_FILE)
    def export_dashboard_xlsx(
        caller: CallerDep,
        first: FromParam,
        last: ToParam,
        scope: ScopeParam = "all",
        party: PartyParam = "",
        period: PeriodKind = PeriodKind.WEEK,
    ) -> Response:
        """The dashboard's figures as an Excel workbook."""
        table = flows.dashboard(caller, scope, party=party, kind=period, first=first, last=last)
        return xlsx_response(table, "考核指标")

    @router.get("/v1/tickets/export.csv", response_class=StreamingResponse, responses=CSV_FILE)
    def export_tickets_csv(
        caller: CallerDep,
        community: str | None = None,
        party: str | None = None,
        status: TicketStatus | None = None,
        escalation_level: EscalationLevel | None = None,
    ) -> StreamingResponse:
        """The tickets of the worker's view (the listing's filters), newest first, without personal data; 413
        over the row cap."""
        query = TicketQuery(community, party, status, escalation_level=escalation_level)
        return csv_response(flows.tickets(caller, query))

    @router.get("/v1/tickets/export.xlsx", response_class=Response, responses=XLSX_FILE)
    def export_tickets_xlsx(
        caller: CallerDep,
        community: str | None = None,
        party: str | None = None,
        status: TicketStatus | None = None,
        escalation_level: EscalationLevel | None = None,
    ) -> Response:
        """The tickets of the worker's view as an Excel workbook; 413 over the row cap."""
        query = TicketQuery(community, party, status, escalation_level=escalation_level)
        return xlsx_response(flows.tickets(caller, query), "工单")

    _add_inbox_routes(router, flows)
    return router


def _add_inbox_routes(router: APIRouter, flows: ExportFlows) -> None:
    @router.get("/v1/inbox/export.csv", response_class=StreamingResponse, responses=CSV_FILE)
    def export_inbox_csv(caller: CallerDep, view: InboxViewDep) -> StreamingResponse:
        """Every ticket of an inbox view (the set, sort and filters of GET /v1/inbox), in its order, without
        personal data; 413 over the row cap."""
        return csv_response(flows.inbox(caller, view))

    @router.get("/v1/inbox/export.xlsx", response_class=Response, responses=XLSX_FILE)
    def export_inbox_xlsx(caller: CallerDep, view: InboxViewDep) -> Response:
        """Every ticket of an inbox view as an Excel workbook; 413 over the row cap."""
        return xlsx_response(flows.inbox(caller, view), "工单")
