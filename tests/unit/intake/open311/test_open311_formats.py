"""GeoReport v2 as its clients expect: every endpoint in XML with the element names of the spec's own examples
(http://wiki.open311.org/GeoReport_v2, written in below), and driven by a maintained Open311 client (georeport)."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from typing import Any

import georeport.georeport as georeport_module
import pytest
from fastapi.testclient import TestClient
from georeport import GeoReport

from tests.unit.intake.fakes import Intake
from tests.unit.intake.open311.conftest import BASE, CITY_KEY, LIGHT, filed

SPEC_SERVICES = """<?xml version="1.0" encoding="utf-8"?>
<services><service><service_code>001</service_code><service_name>Cans left out 24x7</service_name>
<description>Garbage or recycling cans that have been left out for more than 24 hours after collection.</description>
<metadata>true</metadata><type>realtime</type><keywords>lorem, ipsum, dolor</keywords><group>sanitation</group>
</service></services>"""
SPEC_DEFINITION = """<?xml version="1.0" encoding="utf-8"?>
<service_definition><service_code>DMV66</service_code><attributes><attribute><variable>true</variable>
<code>WHISHETN</code><datatype>singlevaluelist</datatype><required>true</required><datatype_description/>
<order>1</order><description>What is the ticket/tag/DL number?</description>
<values><value><key>123</key><name>Ford</name></value></values></attribute></attributes></service_definition>"""
SPEC_CREATED = """<?xml version="1.0" encoding="utf-8"?>
<service_requests><request><service_request_id>293944</service_request_id>
<service_notice>The City will inspect and require the responsible party to correct within 24 hours</service_notice>
<account_id/></request></service_requests>"""
SPEC_REQUESTS = """<?xml version="1.0" encoding="utf-8"?>
<service_requests><request><service_request_id>638344</service_request_id><status>closed</status>
<status_notes>Duplicate request.</status_notes><service_name>Sidewalk and Curb Issues</service_name>
<service_code>006</service_code><description/><agency_responsible/><service_notice/>
<requested_datetime>2010-04-14T06:37:38-08:00</requested_datetime>
<updated_datetime>2010-04-14T06:37:38-08:00</updated_datetime>
<expected_datetime>2010-04-15T06:37:38-08:00</expected_datetime><address>8TH AVE and JUDAH ST</address>
<address_id>545483</address_id><zipcode>94122</zipcode><lat>37.762221815</lat><long>-122.4651145</long>
<media_url>http://city.gov.s3.amazonaws.com/requests/media/638344.jpg</media_url></request></service_requests>"""
SPEC_ERRORS = """<?xml version="1.0" encoding="utf-8"?>
<errors><error><code>403</code><description>Invalid api_key received -- can't proceed with create_request.</description>
</error></errors>"""
SPEC_DISCOVERY = """<?xml version="1.0" encoding="utf-8"?>
<discovery><changeset>2011-02-03 14:18</changeset><contact>api@netcity.gov</contact>
<key_service>http://api.netcity.gov/api_key/request</key_service><endpoints><endpoint>
<specification>http://wiki.open311.org/GeoReport_v2</specification><url>http://open311.sfgov.org/dev/v2</url>
<changeset>2010-11-23 09:01</changeset><type>test</type><formats><format>text/xml</format></formats>
</endpoint></endpoints></discovery>"""


def xml_of(document: str | bytes) -> ElementTree.Element:
    """The parsed document: the spec's examples above, or what the app under test wrote."""
    return ElementTree.fromstring(document)  # noqa: S314 -- our own test data, no entity tricks to fear


def paths(element: ElementTree.Element, prefix: str = "") -> set[str]:
    """Every element's path from the root (`services/service/service_code`): the document's structure."""
    here = f"{prefix}/{element.tag}" if prefix else element.tag
    return {here}.union(*(paths(child, here) for child in element))


def parsed(reply: Any) -> ElementTree.Element:
    assert reply.headers["content-type"].startswith("text/xml"), reply.headers
    return xml_of(reply.content)


def test_every_endpoint_speaks_the_specs_xml(georeport: TestClient, intake: Intake) -> None:
    examples = {
        f"{BASE}/discovery.xml": SPEC_DISCOVERY,
        f"{BASE}/services.xml": SPEC_SERVICES,
        f"{BASE}/services/stairwell_light_broken.xml": SPEC_DEFINITION,
    }
    for path, example in examples.items():
        reply = georeport.get(path)
        assert reply.status_code == 200, path
        assert paths(parsed(reply)) == paths(xml_of(example)), path
    created = georeport.post(
        f"{BASE}/requests.xml", data={"api_key": CITY_KEY, **LIGHT, "lat": "31.2", "long": "121.4"}
    )
    assert created.status_code == 201
    assert paths(parsed(created)) == paths(xml_of(SPEC_CREATED))
    request_id = parsed(created).findtext("request/service_request_id")
    for path in (f"{BASE}/requests.xml", f"{BASE}/requests/{request_id}.xml"):
        reply = georeport.get(path, params={"api_key": CITY_KEY})
        assert reply.status_code == 200, path
        assert paths(parsed(reply)) == paths(xml_of(SPEC_REQUESTS)), path
        assert parsed(reply).findtext("request/service_request_id") == request_id
        assert parsed(reply).findtext("request/lat") == "31.2"


@pytest.mark.parametrize(
    ("method", "path", "params", "status"),
    [
        ("post", "requests.xml", {"api_key": "stolen", **LIGHT}, 403),
        ("post", "requests.xml", {"api_key": CITY_KEY, **LIGHT, "description": ""}, 400),
        ("get", "requests.xml", {"api_key": CITY_KEY, "start_date": "\x00yesterday"}, 400),
        ("get", "requests/missing.xml", {"api_key": CITY_KEY}, 404),
        ("get", "services/no_such_service.xml", {}, 404),
    ],
)
def test_errors_are_the_specs_xml(
    georeport: TestClient, method: str, path: str, params: dict[str, str], status: int
) -> None:
    sent = {"data": params} if method == "post" else {"params": params}
    reply = georeport.request(method.upper(), f"{BASE}/{path}", **sent)  # type: ignore[arg-type]
    assert reply.status_code == status
    errors = parsed(reply)
    assert paths(errors) == paths(xml_of(SPEC_ERRORS))
    assert {error.findtext("code") for error in errors} == {str(status)}


def test_an_unknown_service_definition_is_404_in_json_too(georeport: TestClient) -> None:
    reply = georeport.get(f"{BASE}/services/no_such_service.json")
    assert reply.status_code == 404
    assert reply.json()[0]["description"].startswith("service_code")


@pytest.fixture
def library(georeport: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """georeport's HTTP calls go to the app in process; its GETs carry our key (the library sends none, and this
    jurisdiction requires one to read requests)."""

    def get(url: str, params: dict[str, str] | None = None) -> Any:
        return georeport.get(url, params={**(params or {}), "api_key": CITY_KEY})

    monkeypatch.setattr(georeport_module.requests, "get", get)


@pytest.mark.usefixtures("library")
@pytest.mark.parametrize("output_format", ["xml", "json"])
def test_a_maintained_open311_client_reads_everything(
    georeport: TestClient, intake: Intake, output_format: str
) -> None:
    first = filed(georeport)
    second = filed(georeport, service_code="lift_breakdown", description="5号楼电梯困人了")
    client = GeoReport(f"http://testserver{BASE}", output_format=output_format)
    services = client.get_service_list()
    assert {"stairwell_light_broken", "lift_breakdown"} <= {service["service_code"] for service in services}
    definition = client.get_service_definition("lift_breakdown")
    attributes = definition["attributes"]["attribute"] if output_format == "xml" else definition["attributes"]
    assert [attribute["code"] for attribute in attributes] == ["community", "building"]
    requests = client.get_service_requests()
    assert [request["service_request_id"] for request in requests] == [second, first]
    only = client.get_service_requests(service_code="lift_breakdown", status="open")
    only = [only] if isinstance(only, dict) else only  # xmltodict: one <request> is a dict
    assert [request["service_request_id"] for request in only] == [second]
    one = client.get_service_request(first)
    assert (one["service_request_id"], one["service_code"], one["status"]) == (first, "stairwell_light_broken", "open")
