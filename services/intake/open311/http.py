"""The GeoReport v2 routes under /open311/v2/: discovery, services, and requests filed and read with an api_key."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from linli.errors import LinliError
from services.intake.open311.errors import Open311Error
from services.intake.open311.flows import Open311

PREFIX = "/open311/v2"
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"


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
                "formats": ["application/json"],
            }
        ],
    }


def _answer(work: Callable[[], Any], status: int = 200) -> JSONResponse:
    """`work`'s result as JSON, or its error in the spec's shape."""
    try:
        return JSONResponse(work(), status)
    except Open311Error as error:
        return error.response()
    except LinliError as error:
        return Open311Error.from_domain(error).response()


def open311_routes(open311: Callable[[], Open311]) -> APIRouter:
    """The GeoReport v2 routes; `open311` gives the translator (built on first use, when settings are read)."""
    router = APIRouter(prefix=PREFIX, tags=["open311"])

    @router.get("/discovery.json")
    def discovery(request: Request) -> JSONResponse:
        """Where the endpoint is and what it speaks."""
        url = str(request.url_for("open311_services")).removesuffix("/services.json")
        return JSONResponse(discovery_document(url, open311().catalog_version))

    @router.get("/services.json", name="open311_services")
    def services() -> JSONResponse:
        """The service list: one service per catalog entry."""
        return _answer(lambda: open311().services())

    @router.post("/requests.json")
    async def create_request(request: Request) -> JSONResponse:
        """Files a service request (needs `api_key`); answers `[{service_request_id, service_notice, account_id}]`."""
        try:
            fields = await _fields(request)
        except Open311Error as error:
            return error.response()
        return await run_in_threadpool(_answer, lambda: open311().submit(fields), 201)

    @router.get("/requests.json")
    def list_requests(request: Request) -> JSONResponse:
        """Service requests by ids, or by service_code, start_date, end_date and status (open/closed); needs
        `api_key`."""
        params = dict(request.query_params)
        return _answer(lambda: open311().search(params))

    @router.get("/requests/{request_id}.json")
    def get_request(request_id: str, request: Request) -> JSONResponse:
        """One service request, in a list as the spec answers; needs `api_key`."""
        api_key = request.query_params.get("api_key", "")
        return _answer(lambda: open311().request(request_id, api_key))

    return router
