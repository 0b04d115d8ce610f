"""Open311 GeoReport v2 (XML and JSON) over tickets, for city platforms and third-party apps."""
