"""The GeoReport v2 routes under /open311/v2/, each as `.xml` (the spec's required format) or `.json`: discovery,
services and their definitions, and requests filed and read with an api_key."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from linli.errors import LinliError
from services.intake.open311.errors import Open311Error
from services.intake.open311.flows import Open311
from services.intake.open311.formats import XML_MEDIA_TYPE, Format, answer
from services.intake.open311.shapes import (
    CreatedRequestOut,
    DiscoveryOut,
    ServiceDefinitionOut,
    ServiceOut,
    ServiceRequestOut,
    documented,
)

PREFIX = "/open311/v2"
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
ApiKey = Annotated[str, Query(description="The key the operator issued; needed to file and to read requests.")]
JurisdictionId = Annotated[str, Query(description="One community of the key's jurisdiction (optional).")]
# The POST fields, documented for clients: the spec sends them form-encoded (JSON is read too).
_POST_FIELDS = {
    "type": "object",
    "properties": {
        name: {"type": "string"}
        for name in (
            "api_key",
            "jurisdiction_id",
            "service_code",
            "description",
            "lat",
            "long",
            "address_string",
            "address_id",
            "account_id",
            "media_url",
            "attribute[community]",
            "attribute[building]",
        )
    },
    "required": ["api_key", "service_code", "description"],
}


async def _fields(request: Request) -> dict[str, str]:
    """The POST fields, form-encoded (the spec's way) or JSON; `attribute: {k: v}` is read as `attribute[k]`."""
    body = await request.body()
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    fields: dict[str, str] = {k: v[0] for k, v in parse_qs(request.url.query, keep_blank_values=True).items()}
    if content_type == "application/json":
        try:
            raw = json.loads(body or b"{}")
        except (ValueError, RecursionError) as error:  # RecursionError: nesting deeper than the parser goes
            raise Open311Error(400, ["body: is not valid JSON"]) from error
        if not isinstance(raw, dict):
            raise Open311Error(400, ["body: must be a JSON object"])
        for key, value in raw.items():
            if key == "attribute" and isinstance(value, dict):
                fields.update({f"attribute[{k}]": str(v) for k, v in value.items()})
            elif value is not None:
                fields[str(key)] = str(value)
        return fields
    try:
        form = parse_qs(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError as error:
        raise Open311Error(400, ["body: must be UTF-8"]) from error
    fields.update({key: values[0] for key, values in form.items()})
    return fields


def discovery_document(url: str, catalog_version: str) -> dict[str, Any]:
    """Where the endpoint is and what it speaks; the changeset is the month of the catalog's version (YYYY.MM.N)."""
    year, month, _ = catalog_version.split(".")
    changeset = f"{year}-{int(month):02d}-01T00:00:00+08:00"
    return {
        "changeset": changeset,
        "contact": "请联系所在社区居委会或街道网格中心。",
        "key_service": "API keys are issued by the operator of this linli (LINLI_INTAKE_OPEN311_API_KEYS); "
        "filing and reading requests need one.",
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": url,
                "changeset": changeset,
                "type": "production",
                "formats": [XML_MEDIA_TYPE, "application/json"],
            }
        ],
    }


def _answer(work: Callable[[], Any], root: str, form: Format, status: int = 200) -> Response:
    """`work`'s result in `form` (`root` names the XML root), or its error in the spec's shape."""
    try:
        return answer(work(), root, form, status)
    except Open311Error as error:
        return error.response(form)
    except LinliError as error:
        return Open311Error.from_domain(error).response(form)


def open311_routes(open311: Callable[[], Open311]) -> APIRouter:
    """The GeoReport v2 routes; `open311` gives the translator (built on first use, when settings are read)."""
    router = APIRouter(prefix=PREFIX, tags=["open311"])
    _add_service_routes(router, open311)
    _add_filing_route(router, open311)
    _add_request_routes(router, open311)
    return router


def _add_service_routes(router: APIRouter, open311: Callable[[], Open311]) -> None:
    @router.get("/discovery.{format}", responses=documented(DiscoveryOut, 200))
    def discovery(format: Format, request: Request) -> Response:
        """Where the endpoint is and what it speaks."""
        url = str(request.url_for("open311_services", format=Format.JSON.value)).removesuffix("/services.json")
        return answer(discovery_document(url, open311().catalog_version), "discovery", format)

    @router.get("/services.{format}", name="open311_services", responses=documented(list[ServiceOut], 200))
    def services(format: Format, jurisdiction_id: JurisdictionId = "") -> Response:
        """The service list: one service per catalog entry."""
        return _answer(lambda: open311().services(), "services", format)

    @router.get("/services/{service_code}.{format}", responses=documented(ServiceDefinitionOut, 200, 400, 404))
    def service_definition(service_code: str, format: Format, jurisdiction_id: JurisdictionId = "") -> Response:
        """The attributes a request of the service takes (the community, and the building); 404 for an unknown
        service_code."""
        return _answer(
            lambda: open311().service_definition(service_code, jurisdiction_id), "service_definition", format
        )


def _add_filing_route(router: APIRouter, open311: Callable[[], Open311]) -> None:
    @router.post(
        "/requests.{format}",
        status_code=201,
        responses=documented(list[CreatedRequestOut], 201, 400, 403),
        openapi_extra={
            "requestBody": {
                "content": {"application/x-www-form-urlencoded": {"schema": _POST_FIELDS}},
                "required": True,
            }
        },
    )
    async def create_request(format: Format, request: Request) -> Response:
        """Files a service request (needs `api_key`); answers `[{service_request_id, service_notice, account_id}]`.
        Without `attribute[community]` the community is the jurisdiction_id's, the one the address_string names,
        or the key's only one."""
        try:
            fields = await _fields(request)
        except Open311Error as error:
            return error.response(format)
        return await run_in_threadpool(_answer, lambda: open311().submit(fields), "service_requests", format, 201)


def _add_request_routes(router: APIRouter, open311: Callable[[], Open311]) -> None:
    @router.get("/requests.{format}", responses=documented(list[ServiceRequestOut], 200, 400, 403))
    def list_requests(
        format: Format,
        request: Request,
        api_key: ApiKey = "",
        jurisdiction_id: JurisdictionId = "",
        service_request_id: Annotated[str, Query(description="Ids, comma-separated; overrides the rest")] = "",
        service_code: Annotated[str, Query(description="Service codes, comma-separated")] = "",
        start_date: Annotated[str, Query(description="W3C date-time; the range spans at most 90 days")] = "",
        end_date: Annotated[str, Query(description="W3C date-time; default now (or start_date + 90 days)")] = "",
        status: Annotated[str, Query(description="open, closed or both, comma-separated")] = "",
        page: Annotated[str, Query(description="1-based page number")] = "",
        page_size: Annotated[str, Query(description="Requests per page, at most 1000 (the default)")] = "",
    ) -> Response:
        """Service requests of the key's jurisdiction, newest first: by ids, or one page by service_code, start_date,
        end_date (the last 90 days by default) and status (open/closed)."""
        params = dict(request.query_params)
        return _answer(lambda: open311().search(params), "service_requests", format)

    @router.get(
        "/requests/{service_request_id}.{format}", responses=documented(list[ServiceRequestOut], 200, 400, 403, 404)
    )
    def get_request(
        service_request_id: str,
        format: Format,
        request: Request,
        api_key: ApiKey = "",
        jurisdiction_id: JurisdictionId = "",
    ) -> Response:
        """One service request, in a list as the spec answers; needs `api_key`; 404 outside its jurisdiction."""
        params = dict(request.query_params)
        return _answer(lambda: open311().request(service_request_id, params), "service_requests", format)
