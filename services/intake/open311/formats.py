"""The two formats of GeoReport v2: JSON, and XML — the spec's required one — with its element names."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from fastapi.responses import JSONResponse, Response

XML_MEDIA_TYPE = "text/xml"
# Characters XML 1.0 cannot carry (an echoed parameter may hold them): dropped, never a 500 when encoding.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# The element of each item of a list, by the list's element (or the root's): as the spec's examples name them.
ITEM_ELEMENTS = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
    "attributes": "attribute",
    "values": "value",
}


class Format(StrEnum):
    """The extension of a GeoReport path: `.json` or `.xml`."""

    JSON = "json"
    XML = "xml"


def as_xml(root: str, document: Mapping[str, Any] | list[Any]) -> bytes:
    """`document` (a list of items, or an object) as XML under `root`, with a declaration, UTF-8."""
    element = ElementTree.Element(root)
    _fill(element, root, document)
    body: bytes = ElementTree.tostring(element, encoding="utf-8", xml_declaration=True)
    return body


def _fill(element: ElementTree.Element, name: str, value: Any) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            _fill(ElementTree.SubElement(element, key), key, item)
    elif isinstance(value, list):
        for item in value:
            _fill(ElementTree.SubElement(element, ITEM_ELEMENTS[name]), ITEM_ELEMENTS[name], item)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:  # None stays an empty element, as the spec's examples leave unknown fields
        element.text = _NOT_XML.sub("", str(value))


def answer(document: Mapping[str, Any] | list[Any], root: str, form: Format, status: int = 200) -> Response:
    """`document` in the format asked for; `root` names the XML root element."""
    if form is Format.XML:
        return Response(as_xml(root, document), status, media_type=XML_MEDIA_TYPE)
    return JSONResponse(document, status)
