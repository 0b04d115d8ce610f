"""The documented shapes of the GeoReport answers (OpenAPI only: the routes answer with plain lists and objects)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from services.intake.open311.formats import XML_MEDIA_TYPE


class ServiceOut(BaseModel):
    """A service: one entry of the responsibility catalog."""

    service_code: str
    service_name: str
    description: str
    metadata: bool
    type: str
    keywords: str
    group: str


class AttributeValueOut(BaseModel):
    """One choice of a list attribute."""

    key: str
    name: str


class AttributeOut(BaseModel):
    """An attribute a request of the service takes, posted as `attribute[code]`."""

    variable: bool
    code: str
    datatype: str
    required: bool
    datatype_description: str
    order: int
    description: str
    values: list[AttributeValueOut]


class ServiceDefinitionOut(BaseModel):
    """The attributes of one service."""

    service_code: str
    attributes: list[AttributeOut]


class CreatedRequestOut(BaseModel):
    """What a POST answers: the new request's id and a notice."""

    service_request_id: str
    service_notice: str
    account_id: str | None


class ServiceRequestOut(BaseModel):
    """A service request (a ticket); lat/long are rounded and media_url left out unless the key's client filed it."""

    service_request_id: str
    status: str
    status_notes: str
    service_name: str
    service_code: str
    description: str
    agency_responsible: str
    service_notice: str
    requested_datetime: str
    updated_datetime: str
    expected_datetime: str | None
    address: str
    address_id: str | None
    zipcode: str | None
    lat: float | None
    long: float | None
    media_url: str | None


class EndpointOut(BaseModel):
    """Where one endpoint is and what it speaks."""

    specification: str
    url: str
    changeset: str
    type: str
    formats: list[str]


class DiscoveryOut(BaseModel):
    """The discovery document."""

    changeset: str
    contact: str
    key_service: str
    endpoints: list[EndpointOut]


class Open311ErrorOut(BaseModel):
    """One GeoReport error (`<errors><error>` in XML)."""

    code: int
    description: str


def documented(answer: Any, success: int, *errors: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a GeoReport route: `answer` (a model, or a list of one) at `success`, each of `errors`
    as the spec's error list; every one also as XML."""
    xml = {XML_MEDIA_TYPE: {"schema": {"type": "string"}}}
    responses: dict[int | str, dict[str, Any]] = {success: {"model": answer, "content": xml}}
    for status in errors:
        responses[status] = {"model": list[Open311ErrorOut], "content": xml, "description": "GeoReport errors"}
    return responses
